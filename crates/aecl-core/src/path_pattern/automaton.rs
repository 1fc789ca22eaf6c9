//! Finite automata over characters, and whether two of them accept a common text.
//!
//! A glob is a regular language; whether a tool's pattern may match a path a policy glob
//! names is whether the two languages meet, which the product of their automata answers
//! by a search over pairs of states. Edges carry sets of characters (a literal, a class,
//! "anything but `/`") rather than characters, so the alphabet never has to be listed.

use std::collections::HashSet;

/// A set of characters: the listed inclusive ranges, or every character but them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chars {
    Only(Vec<(char, char)>),
    AllBut(Vec<(char, char)>),
}

impl Chars {
    pub fn one(c: char) -> Chars {
        Chars::Only(vec![(c, c)])
    }

    /// Any character but `/`.
    pub fn name() -> Chars {
        Chars::AllBut(vec![('/', '/')])
    }

    pub fn any() -> Chars {
        Chars::AllBut(Vec::new())
    }

    /// This set without `c`.
    pub fn without(&self, c: char) -> Chars {
        match self {
            Chars::AllBut(ranges) => {
                let mut ranges = ranges.clone();
                ranges.push((c, c));
                Chars::AllBut(ranges)
            }
            Chars::Only(ranges) => {
                let mut out = Vec::with_capacity(ranges.len() + 1);
                for &(low, high) in ranges {
                    if c < low || c > high {
                        out.push((low, high));
                        continue;
                    }
                    if let Some(before) = char::from_u32(u32::from(c).wrapping_sub(1))
                        && low < c
                    {
                        out.push((low, before));
                    }
                    if let Some(after) = char::from_u32(u32::from(c) + 1)
                        && c < high
                    {
                        out.push((after, high));
                    }
                }
                Chars::Only(out)
            }
        }
    }

    /// The set as a case-insensitive matcher reads it: a character is in it when another
    /// case of it is. Where that is costly to say exactly (a huge range, a negation), the
    /// answer is larger, never smaller: for a deny list, matching too much only refuses more.
    pub fn folded(&self) -> Chars {
        match self {
            // A character stays excluded when each of its other cases is excluded too:
            // `[!t]` still matches `T`, which a case-insensitive reading takes for `t`;
            // `[!tT]` matches neither.
            Chars::AllBut(ranges) => {
                let excluded: Vec<char> = ranges
                    .iter()
                    .flat_map(|&(low, high)| (u32::from(low)..=u32::from(high)).take(256))
                    .filter_map(char::from_u32)
                    .collect();
                Chars::AllBut(
                    excluded
                        .iter()
                        .filter(|&&c| {
                            c.to_lowercase()
                                .chain(c.to_uppercase())
                                .all(|other| other == c || excluded.contains(&other))
                        })
                        .map(|&c| (c, c))
                        .collect(),
                )
            }
            Chars::Only(ranges) => {
                let mut out = ranges.clone();
                for &(low, high) in ranges {
                    if u32::from(high) - u32::from(low) > 4096 {
                        // Big ranges: their ASCII letters' other cases, and no more.
                        out.push(('A', 'Z'));
                        out.push(('a', 'z'));
                        continue;
                    }
                    for c in (u32::from(low)..=u32::from(high)).filter_map(char::from_u32) {
                        for other in c.to_lowercase().chain(c.to_uppercase()) {
                            if other != c {
                                out.push((other, other));
                            }
                        }
                    }
                }
                Chars::Only(out)
            }
        }
    }

    /// Whether the two sets share a character.
    pub fn meets(&self, other: &Chars) -> bool {
        match (self, other) {
            // Finitely many exclusions each, out of every character.
            (Chars::AllBut(_), Chars::AllBut(_)) => true,
            (Chars::Only(only), Chars::AllBut(but)) | (Chars::AllBut(but), Chars::Only(only)) => {
                only.iter().any(|&range| !covered(range, but))
            }
            (Chars::Only(a), Chars::Only(b)) => {
                a.iter().any(|&(low, high)| b.iter().any(|&(l, h)| low <= h && l <= high))
            }
        }
    }
}

/// Whether every character of `range` is in one of `by`.
fn covered((low, high): (char, char), by: &[(char, char)]) -> bool {
    let mut sorted: Vec<(u32, u32)> =
        by.iter().map(|&(l, h)| (u32::from(l), u32::from(h))).collect();
    sorted.sort_unstable();
    let mut next = u32::from(low);
    for (l, h) in sorted {
        if l > next {
            break;
        }
        if h >= next {
            match h.checked_add(1) {
                Some(after) => next = after,
                None => return true,
            }
        }
        if next > u32::from(high) {
            return true;
        }
    }
    next > u32::from(high)
}

/// A nondeterministic automaton with one start (state 0) and one accepting state.
#[derive(Debug, Clone, Default)]
pub struct Automaton {
    edges: Vec<Vec<(Chars, usize)>>,
    empty: Vec<Vec<usize>>,
    accept: usize,
}

impl Automaton {
    /// An automaton of the start state alone.
    pub fn new() -> Automaton {
        Automaton { edges: vec![Vec::new()], empty: vec![Vec::new()], accept: 0 }
    }

    pub fn state(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.empty.push(Vec::new());
        self.edges.len() - 1
    }

    pub fn edge(&mut self, from: usize, chars: Chars, to: usize) {
        if let Some(edges) = self.edges.get_mut(from) {
            edges.push((chars, to));
        }
    }

    /// A move that reads nothing.
    pub fn skip(&mut self, from: usize, to: usize) {
        if let Some(empty) = self.empty.get_mut(from) {
            empty.push(to);
        }
    }

    pub fn set_accept(&mut self, state: usize) {
        self.accept = state;
    }

    /// Every edge's set folded ([`Chars::folded`]).
    pub fn folded(mut self) -> Automaton {
        for edges in &mut self.edges {
            for (chars, _) in edges.iter_mut() {
                *chars = chars.folded();
            }
        }
        self
    }

    /// Whether some text takes both automata from their starts to their accepting states.
    /// Each pair of states visited takes one from `budget`; once it is spent the answer is
    /// yes: the caller refuses what it could not tell apart.
    pub fn meets(&self, other: &Automaton, budget: &mut usize) -> bool {
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        let mut stack = vec![(0, 0)];
        while let Some((a, b)) = stack.pop() {
            if !seen.insert((a, b)) {
                continue;
            }
            match budget.checked_sub(1) {
                Some(left) => *budget = left,
                None => return true,
            }
            if a == self.accept && b == other.accept {
                return true;
            }
            let (Some(a_edges), Some(b_edges)) = (self.edges.get(a), other.edges.get(b)) else {
                continue;
            };
            stack.extend(self.empty.get(a).into_iter().flatten().map(|&next| (next, b)));
            stack.extend(other.empty.get(b).into_iter().flatten().map(|&next| (a, next)));
            for (a_chars, a_next) in a_edges {
                for (b_chars, b_next) in b_edges {
                    if a_chars.meets(b_chars) {
                        stack.push((*a_next, *b_next));
                    }
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_meet_when_they_share_a_character() {
        let dot = Chars::one('.');
        assert!(dot.meets(&Chars::name()));
        assert!(!dot.meets(&Chars::name().without('.')));
        assert!(!Chars::one('/').meets(&Chars::name()));
        assert!(Chars::Only(vec![('a', 'z')]).meets(&Chars::AllBut(vec![('a', 'm')])));
        assert!(!Chars::Only(vec![('a', 'm')]).meets(&Chars::AllBut(vec![('a', 'f'), ('g', 'z')])));
        assert!(Chars::any().meets(&Chars::name()));
        assert!(!Chars::Only(vec![('a', 'c')]).meets(&Chars::Only(vec![('d', 'f')])));
        assert_eq!(
            Chars::Only(vec![('a', 'c')]).without('b'),
            Chars::Only(vec![('a', 'a'), ('c', 'c')])
        );
        assert!(!Chars::Only(vec![('.', '.')]).without('.').meets(&Chars::any()));
    }

    #[test]
    fn folding_adds_the_other_cases() {
        assert!(Chars::one('G').folded().meets(&Chars::one('g')));
        assert!(Chars::Only(vec![('A', 'Z')]).folded().meets(&Chars::one('q')));
        assert!(!Chars::one('1').folded().meets(&Chars::one('2')));
        assert!(Chars::AllBut(vec![('a', 'a')]).folded().meets(&Chars::one('A')));
        assert!(!Chars::AllBut(vec![('a', 'a'), ('A', 'A')]).folded().meets(&Chars::one('A')));
        assert!(!Chars::AllBut(vec![('/', '/')]).folded().meets(&Chars::one('/')));
    }

    #[test]
    fn the_product_finds_a_common_text() {
        // "ab*" against "a?c": "abc".
        let mut left = Automaton::new();
        let (s1, s2) = (left.state(), left.state());
        left.edge(0, Chars::one('a'), s1);
        left.edge(s1, Chars::one('b'), s2);
        left.edge(s2, Chars::any(), s2);
        left.set_accept(s2);
        let mut right = Automaton::new();
        let (t1, t2, t3) = (right.state(), right.state(), right.state());
        right.edge(0, Chars::one('a'), t1);
        right.edge(t1, Chars::any(), t2);
        right.edge(t2, Chars::one('c'), t3);
        right.set_accept(t3);
        assert!(left.meets(&right, &mut 1000));
        // "ab*" against "ac": none.
        let mut other = Automaton::new();
        let (u1, u2) = (other.state(), other.state());
        other.edge(0, Chars::one('a'), u1);
        other.edge(u1, Chars::one('c'), u2);
        other.set_accept(u2);
        assert!(!left.meets(&other, &mut 1000));
        assert!(left.meets(&other, &mut 1), "past the budget the answer is yes");
        other.skip(0, u2);
        assert!(!left.meets(&other, &mut 1000), "the empty text is not one of `ab*`");
    }
}
