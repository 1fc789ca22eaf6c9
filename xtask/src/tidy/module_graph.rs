//! The file-level module graph of one crate, and the cycles in it (the tidy rule "no file
//! cycles inside `aecl-core` or `aecl-engine`").
//!
//! A file is a node; file A has an edge to file B when A names an item through a path that
//! resolves into B's module (`use crate::b::X`, `crate::b::f()`, `super::b`, `self::b`, or
//! a child module's bare name): the deepest module that is a file of its own is the
//! target. `mod b;` declarations are structure, not edges, and so is a file naming one of
//! its own ancestors (a part of a module using the module's shared types: `super::Engine`);
//! a parent naming its child, and every other edge, counts. A cycle means the files cannot
//! be read, tested or moved apart; a helper both need belongs in a leaf module.
//!
//! The scanner reads tokens, not a syntax tree: comments, strings and characters are
//! skipped, inline modules (`mod tests { ... }`) are tracked by their braces so that
//! `super::` inside them resolves from the right place, and `use` trees (`a::{b, c::D}`)
//! are expanded.

use std::collections::{BTreeMap, BTreeSet};

/// A module path from the crate root: `["engine", "decide"]`.
pub type ModPath = Vec<String>;

/// The files of a crate as module paths with their text (`src/lib.rs` is `[]`, `src/a.rs`
/// and `src/a/mod.rs` are `["a"]`, `src/a/b.rs` is `["a", "b"]`).
pub type Files = BTreeMap<ModPath, String>;

/// The edges between files: each file to the files it names. A path through a `use`
/// binding (a re-export such as the crate root's `pub use engine::Engine`) is followed to
/// where the item is defined, so re-exports make no edges of their own beyond the file
/// that writes them.
pub fn edges(files: &Files) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let scanned: BTreeMap<&ModPath, Scanned> =
        files.iter().map(|(file, text)| (file, scan(file, text, files))).collect();
    let mut out = BTreeMap::new();
    for (file, found) in &scanned {
        let mut targets = BTreeSet::new();
        for path in &found.paths {
            // A child naming its own ancestor (`super::`, the parent's shared types) is
            // how a module is split into parts; only that direction is exempt.
            if let Some(target) = resolve(path, files, &scanned, 0)
                && target != **file
                && !file.starts_with(&target)
            {
                targets.insert(target);
            }
        }
        out.insert((*file).clone(), targets);
    }
    out
}

/// What one file names, and the names its `use` statements bind (to absolute paths).
#[derive(Debug, Default)]
struct Scanned {
    paths: Vec<ModPath>,
    bindings: BTreeMap<String, ModPath>,
}

/// The file that defines what `path` names: the deepest prefix that is a file, followed
/// through that file's `use` bindings.
fn resolve(
    path: &[String],
    files: &Files,
    scanned: &BTreeMap<&ModPath, Scanned>,
    depth: usize,
) -> Option<ModPath> {
    let file = owning_file(path, files)?;
    let rest = &path[file.len()..];
    if depth < 8
        && let Some(first) = rest.first()
        && let Some(bound) = scanned.get(&file).and_then(|s| s.bindings.get(first))
        && bound.as_slice() != path
    {
        let mut target = bound.clone();
        target.extend(rest.iter().skip(1).cloned());
        if let Some(found) = resolve(&target, files, scanned, depth + 1) {
            return Some(found);
        }
    }
    Some(file)
}

/// Every cycle of the graph, one per strongly connected component of more than one file,
/// each as the files in it (sorted).
pub fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    // Tarjan's algorithm, iteratively: the graphs are small, but recursion depth should
    // not depend on the code base.
    let nodes: Vec<&ModPath> = edges.keys().collect();
    let index_of: BTreeMap<&ModPath, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| edges[*n].iter().filter_map(|t| index_of.get(t).copied()).collect())
        .collect();
    let n = nodes.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut next, mut found) = (Vec::new(), 0, Vec::new());
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succ[v].get(*child) {
                *child += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(nodes[w].clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    found.push(component);
                }
            }
        }
    }
    found.sort();
    found
}

/// The file that holds module `path` or the item it names: its deepest prefix that is a
/// file.
fn owning_file(path: &[String], files: &Files) -> Option<ModPath> {
    (0..=path.len()).rev().map(|len| path[..len].to_vec()).find(|prefix| files.contains_key(prefix))
}

/// Tokens of Rust source that matter here: identifiers (and keywords), `::`, and single
/// punctuation characters. Comments, strings, characters and lifetimes are dropped.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while chars.get(i).is_some_and(|&c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            i = skip_raw_string(&chars, i);
        } else if c == 'b' && next == Some('"') {
            i = skip_string(&chars, i + 1);
        } else if c == '"' {
            i = skip_string(&chars, i);
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && next == Some(':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

fn raw_string_at(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

fn skip_raw_string(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    j += 1; // the opening quote
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return j + 1 + hashes;
        }
        j += 1;
    }
    j
}

/// Past the string that opens at `i` (a `"`).
fn skip_string(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// Past a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`).
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        // Past the escaped character (which may itself be a quote), to the closing one.
        let mut j = i + 3;
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    // A lifetime or label: its name is read as an identifier next, which resolves nowhere.
    i + 1
}

/// The absolute module paths that the file `file` names, and its `use` bindings.
fn scan(file: &ModPath, text: &str, files: &Files) -> Scanned {
    let tokens = tokens(text);
    let mut out = Scanned::default();
    // The module each open brace belongs to: an inline `mod x {` opens a module.
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let here: ModPath = file.iter().cloned().chain(scopes.iter().flatten().cloned()).collect();
        let token = tokens[i].as_str();
        match token {
            "mod" if tokens.get(i + 2).map(String::as_str) == Some("{") => {
                scopes.push(Some(tokens[i + 1].clone()));
                i += 3;
                continue;
            }
            "{" => scopes.push(None),
            "}" => {
                scopes.pop();
            }
            _ => {}
        }
        let previous = i.checked_sub(1).map(|p| tokens[p].as_str());
        // `$crate::` is a macro's path, resolved where the macro is used.
        let starts_path = !matches!(previous, Some("::" | "$"));
        if starts_path && tokens.get(i + 1).map(String::as_str) == Some("::") {
            let base = match token {
                "crate" => Some(Vec::new()),
                "self" => Some(here.clone()),
                "super" => here.split_last().map(|(_, parent)| parent.to_vec()),
                // A child module's bare name (a file of its own) in the current module.
                name => {
                    let mut child = here.clone();
                    child.push(name.to_owned());
                    files.contains_key(&child).then_some(child)
                }
            };
            if let Some(base) = base {
                let in_use = previous == Some("use");
                let end = use_tree(&tokens, i + 2, base, in_use, &mut out);
                i = end.max(i + 1);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Reads the rest of a path (or `use` tree) from `tokens[i]` on, after `prefix::`, noting
/// every complete path (and, in a `use`, the name it binds); returns where it ended.
fn use_tree(
    tokens: &[String],
    mut i: usize,
    mut prefix: ModPath,
    in_use: bool,
    out: &mut Scanned,
) -> usize {
    let token = |i: usize| tokens.get(i).map(String::as_str);
    loop {
        match token(i) {
            Some("{") => {
                i += 1;
                loop {
                    match token(i) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        Some("self") if matches!(token(i + 1), Some("," | "}")) => {
                            finish(prefix.clone(), None, in_use, out);
                            i += 1;
                        }
                        Some(_) => i = use_tree(tokens, i, prefix.clone(), in_use, out),
                        None => return i,
                    }
                }
            }
            Some("super") => {
                prefix.pop();
            }
            Some("self") => {}
            Some("*") => {
                out.paths.push(prefix);
                return i + 1;
            }
            Some(name) if name.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                prefix.push(name.to_owned());
            }
            _ => {
                finish(prefix, None, in_use, out);
                return i;
            }
        }
        i += 1;
        if token(i) != Some("::") {
            let alias = (token(i) == Some("as")).then(|| token(i + 1)).flatten();
            finish(prefix, alias, in_use, out);
            return if alias.is_some() { i + 2 } else { i };
        }
        i += 1;
    }
}

/// Notes a complete path, and in a `use` the name it binds (its alias or last segment).
fn finish(path: ModPath, alias: Option<&str>, in_use: bool, out: &mut Scanned) {
    if in_use
        && let Some(name) = alias.or(path.last().map(String::as_str))
        && name != "_"
    {
        out.bindings.insert(name.to_owned(), path.clone());
    }
    out.paths.push(path);
}
