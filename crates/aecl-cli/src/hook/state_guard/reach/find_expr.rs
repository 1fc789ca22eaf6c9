//! What `find` may act on, by name: the names for which its expression reaches an action
//! (`-delete`, `-exec`, `-execdir`, `-ok`, `-okdir`), read from its `-name` and `-iname`
//! tests through `-a`, `-o`, `,`, `!` and parentheses.
//!
//! Every reading errs towards more names: a negated test, a path or regex test, a time or
//! type test selects any name; an `-o` unites what either side selects; an expression this
//! reading cannot parse (a word only known at run time, an unknown operator) selects any
//! name. `-empty` selects nothing the guard protects (a settings file or program is not
//! empty, nor is a directory holding one).

use aecl_core::shell::ShellArg;

/// A `-name` pattern (runs of `*` made one), with whether it ignores case (`-iname`).
pub type Pattern = (String, bool);

/// The names an action may reach: `None`, any; else a union of conjunctions of patterns
/// (`Some(vec![])`: none).
pub type Names = Option<Vec<Vec<Pattern>>>;

/// Conjunctions kept at most; past it, a union is any name and an intersection keeps its
/// left side (both only ever select more).
const MAX_BRANCHES: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Any,
    Union(Vec<Vec<Pattern>>),
}

impl Filter {
    const NONE: Filter = Filter::Union(Vec::new());

    fn and(self, other: Filter) -> Filter {
        match (self, other) {
            (Filter::Any, x) | (x, Filter::Any) => x,
            (Filter::Union(a), Filter::Union(b)) => {
                if a.len().saturating_mul(b.len()) > MAX_BRANCHES {
                    return Filter::Union(a);
                }
                let mut out = Vec::new();
                for x in &a {
                    for y in &b {
                        out.push(x.iter().chain(y).cloned().collect());
                    }
                }
                Filter::Union(out)
            }
        }
    }

    fn or(self, other: Filter) -> Filter {
        match (self, other) {
            (Filter::Any, _) | (_, Filter::Any) => Filter::Any,
            (Filter::Union(mut a), Filter::Union(b)) => {
                a.extend(b);
                if a.len() > MAX_BRANCHES { Filter::Any } else { Filter::Union(a) }
            }
        }
    }
}

/// What a part of the expression selects (where it is true), and where an action in it
/// runs.
type Reading = (Filter, Filter);

/// The names `find`'s expression, `words`, reaches an action on.
pub fn names(words: &[ShellArg]) -> Names {
    let mut parser = Parser { words, at: 0, prints: false };
    let reading = parser.expr();
    match reading {
        Some((_, Filter::Union(names))) if parser.at == words.len() => Some(names),
        _ => None,
    }
}

/// The names `find`'s expression, `words`, prints (`find ... | xargs CMD` hands them to
/// CMD): where `-print`, `-print0`, `-printf` or `-ls` runs, or, with no action at all,
/// wherever the expression is true (find's implicit `-print`).
pub fn printed(words: &[ShellArg]) -> Names {
    const ACTIONS: [&str; 14] = [
        "-delete", "-exec", "-execdir", "-ok", "-okdir", "-print", "-print0", "-printf", "-ls",
        "-fprint", "-fprint0", "-fprintf", "-fls", "-quit",
    ];
    let mut parser = Parser { words, at: 0, prints: true };
    let reading = parser.expr();
    // A format prints whatever text it holds, not the name.
    if words.iter().any(|w| matches!(w.text.as_str(), "-printf" | "-fprintf")) {
        return None;
    }
    let implicit = !words.iter().any(|w| w.is_known() && ACTIONS.contains(&w.text.as_str()));
    match reading {
        Some((selects, acts)) if parser.at == words.len() => {
            match if implicit { selects } else { acts } {
                Filter::Union(names) => Some(names),
                Filter::Any => None,
            }
        }
        _ => None,
    }
}

/// Whether `name` is selected by `names` (a union of conjunctions).
pub fn selected(names: &[Vec<Pattern>], name: &str) -> bool {
    names.iter().any(|all| {
        all.iter().all(|(pattern, fold)| {
            if *fold {
                // Case aside, `[:upper:]` and `[:lower:]` are letters.
                let pattern =
                    pattern.replace("[:upper:]", "[:alpha:]").replace("[:lower:]", "[:alpha:]");
                super::super::expand::fnmatch(&pattern.to_lowercase(), &name.to_lowercase())
            } else {
                super::super::expand::fnmatch(pattern, name)
            }
        })
    })
}

struct Parser<'w> {
    words: &'w [ShellArg],
    at: usize,
    /// Printing is the action read (`printed`).
    prints: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(|w| if w.is_known() { w.text.as_str() } else { "\0" })
    }

    fn expr(&mut self) -> Option<Reading> {
        let mut left = self.term()?;
        while matches!(self.peek(), Some("-o" | "-or" | ",")) {
            self.at += 1;
            let right = self.term()?;
            left = (left.0.or(right.0), left.1.or(right.1));
        }
        Some(left)
    }

    fn term(&mut self) -> Option<Reading> {
        let mut left = self.factor()?;
        loop {
            match self.peek() {
                None | Some(")" | "-o" | "-or" | ",") => return Some(left),
                Some("-a" | "-and") => self.at += 1,
                _ => {}
            }
            let right = self.factor()?;
            // The right side runs only where the left is true.
            let act = left.1.or(left.0.clone().and(right.1));
            left = (left.0.and(right.0), act);
        }
    }

    fn factor(&mut self) -> Option<Reading> {
        let word = self.peek()?.to_owned();
        self.at += 1;
        match word.as_str() {
            "!" | "-not" => {
                let (_, act) = self.factor()?;
                Some((Filter::Any, act))
            }
            "(" => {
                let inner = self.expr()?;
                (self.peek()? == ")").then(|| self.at += 1)?;
                Some(inner)
            }
            "-name" | "-iname" => {
                let pattern = self.words.get(self.at).filter(|w| w.is_known())?;
                self.at += 1;
                let mut text = String::new();
                for c in pattern.text.chars() {
                    if !(c == '*' && text.ends_with('*')) {
                        text.push(c);
                    }
                }
                Some((Filter::Union(vec![vec![(text, word == "-iname")]]), Filter::NONE))
            }
            "-empty" | "-false" => Some((Filter::NONE, Filter::NONE)),
            "-delete" => Some((Filter::Any, Filter::Any)),
            "-print" | "-print0" | "-ls" if self.prints => Some((Filter::Any, Filter::Any)),
            "-printf" if self.prints => {
                self.at += 1;
                (self.at <= self.words.len()).then_some((Filter::Any, Filter::Any))
            }
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                // The command's words, to its `;` or `{} +`.
                let mut previous = String::new();
                loop {
                    let word = self.words.get(self.at)?;
                    self.at += 1;
                    if word.text == ";" || (word.text == "+" && previous == "{}") {
                        break;
                    }
                    previous.clone_from(&word.text);
                }
                Some((Filter::Any, Filter::Any))
            }
            primary if primary.starts_with('-') => {
                self.at += arguments(primary);
                (self.at <= self.words.len()).then_some((Filter::Any, Filter::NONE))
            }
            // A word only known at run time, or one that is no primary.
            _ => None,
        }
    }
}

/// The arguments a primary takes.
fn arguments(primary: &str) -> usize {
    const ONE: [&str; 38] = [
        "-type",
        "-xtype",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-size",
        "-perm",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-links",
        "-inum",
        "-samefile",
        "-newer",
        "-anewer",
        "-cnewer",
        "-used",
        "-fstype",
        "-maxdepth",
        "-mindepth",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-lname",
        "-ilname",
        "-fprint",
        "-fprint0",
        "-fls",
        "-printf",
        "-regextype",
        "-context",
    ];
    match primary {
        "-fprintf" => 2,
        "-files0-from" => 1,
        _ if ONE.contains(&primary) => 1,
        _ if primary.starts_with("-newer") && primary.len() == 8 => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Names {
        let words: Vec<ShellArg> = line.split(' ').map(ShellArg::known).collect();
        names(&words)
    }

    fn p(text: &str) -> Pattern {
        (text.to_owned(), false)
    }

    #[test]
    fn the_names_find_prints_for_xargs() {
        let read_printed = |line: &str| {
            let words: Vec<ShellArg> = line.split(' ').map(ShellArg::known).collect();
            printed(&words)
        };
        // Without an action, find prints wherever its expression is true.
        assert_eq!(read_printed("-name *.log"), Some(vec![vec![p("*.log")]]));
        assert_eq!(read_printed("-type f -name *.log -print0"), Some(vec![vec![p("*.log")]]));
        assert_eq!(
            read_printed("-path ./x -prune -o -name *.o -print"),
            Some(vec![vec![p("*.o")]])
        );
        assert_eq!(read_printed("-type f"), None);
        assert_eq!(read_printed("-name *.txt -printf .claude"), None);
        assert_eq!(read_printed("-name *.log -o -type f"), None);
    }

    #[test]
    fn the_names_an_action_is_reached_for() {
        assert_eq!(read("-type f -name *.pyc -delete"), Some(vec![vec![p("*.pyc")]]));
        assert_eq!(
            read("( -name *.pyc -o -name *.pyo ) -delete"),
            Some(vec![vec![p("*.pyc")], vec![p("*.pyo")]])
        );
        // `-o` binds looser than the implied `-a`: the action is on the right side.
        assert_eq!(read("-name *.pyc -o -name *.pyo -delete"), Some(vec![vec![p("*.pyo")]]));
        assert_eq!(
            read("-path ./node_modules -prune -o -name *.pyc -delete"),
            Some(vec![vec![p("*.pyc")]])
        );
        assert_eq!(read("-not -path ./.git/* -name *.tmp -delete"), Some(vec![vec![p("*.tmp")]]));
        assert_eq!(read("-type d -empty -delete"), Some(vec![]));
        assert_eq!(read("-name **.py -exec sed -i s/a/b/ {} +"), Some(vec![vec![p("*.py")]]));
        for open in [
            "-delete",
            "! -name *.py -delete",
            "-name *.py -o -delete",
            "-name *.py , -delete",
            "( -name *.py",
            "-name",
            "-newer x -delete",
            "-regex .* -delete",
            "x -delete",
        ] {
            assert_eq!(read(open), None, "{open}");
        }
    }

    #[test]
    fn a_name_is_selected_by_any_conjunction() {
        let names = vec![vec![p("*.py"), p("a*")], vec![("SETTINGS*".to_owned(), true)]];
        assert!(selected(&names, "abc.py"));
        assert!(!selected(&names, "b.py"));
        assert!(selected(&names, "settings.json"));
        let upper = vec![vec![("[[:upper:]]ettings*".to_owned(), true)]];
        assert!(selected(&upper, "settings.json"));
        assert!(!selected(&[], "settings.json"));
    }
}
