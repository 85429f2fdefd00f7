//! Typo mending: a word one edit from the action vocabulary ("deplyo", "tset", "genarate") is
//! read as that word, unless it is a word of its own ("hat", "ships").

/// The action vocabulary, which typos are read against.
const VOCABULARY: &[&str] = &[
    "build",
    "rebuild",
    "built",
    "generate",
    "regenerate",
    "code",
    "write",
    "implement",
    "compile",
    "deploy",
    "redeploy",
    "deployment",
    "deploying",
    "deployed",
    "release",
    "publish",
    "production",
    "staging",
    "ship",
    "test",
    "tests",
    "testing",
    "pytest",
    "run",
    "execute",
    "rollback",
    "revert",
    "restore",
    "rewind",
    "previous",
    "version",
    "back",
    "roll",
    "the",
    "it",
    "what",
    "where",
    "how",
    "whats",
    "current",
    "push",
    "launch",
    "please",
    "generating",
    "building",
    "generation",
    "switch",
    "postgres",
    "testsuite",
    "search",
];
/// Words one edit from the vocabulary that are words of their own.
const NOT_TYPOS: &[&str] = &[
    "were", "hat", "wear", "lunch", "texts", "guild", "shop", "ships", "there", "these", "those",
    "here", "whole", "whom",
];

/// A word read as the vocabulary word one edit away, if there is one: a swap of two adjacent
/// letters at any length ("tset", "hwo"), a letter more or less from four letters on ("deply",
/// "buil"), another letter from five letters on ("genarate"). Plural `-s` is never taken off.
pub(super) fn correct(word: &str) -> String {
    if VOCABULARY.contains(&word)
        || NOT_TYPOS.contains(&word)
        || word.len() < 2
        || !word.chars().all(|c| c.is_ascii_lowercase())
    {
        return word.to_owned();
    }
    let w: Vec<char> = word.chars().collect();
    for v in VOCABULARY {
        let t: Vec<char> = v.chars().collect();
        let ok = match slip(&w, &t) {
            Some(Slip::Swap) => true,
            Some(Slip::Substitution) => w.len() >= 5,
            Some(Slip::Deletion) => w.len() >= 3 && t.len() >= 4,
            Some(Slip::Insertion) => {
                w.len() >= 5 && !(w.last() == Some(&'s') && w[..w.len() - 1] == t[..])
            }
            None => false,
        };
        if ok {
            return (*v).to_owned();
        }
    }
    word.to_owned()
}

/// How a word differs from the one meant by a single slip of a typist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slip {
    /// Two adjacent letters swapped ("tset").
    Swap,
    /// One letter wrong ("genarate").
    Substitution,
    /// One letter more ("deploy" typed "depploy").
    Insertion,
    /// One letter less ("buil").
    Deletion,
}

/// The one slip that makes `word` of `meant`, if one does (`None` when they are equal too).
pub(super) fn slip(word: &[char], meant: &[char]) -> Option<Slip> {
    if word.len() == meant.len() {
        let diff: Vec<usize> = (0..word.len()).filter(|&i| word[i] != meant[i]).collect();
        return match diff.as_slice() {
            [a, b] if *b == a + 1 && word[*a] == meant[*b] && word[*b] == meant[*a] => {
                Some(Slip::Swap)
            }
            [_] => Some(Slip::Substitution),
            _ => None,
        };
    }
    if word.len() + 1 == meant.len() && one_insertion(word, meant) {
        return Some(Slip::Deletion);
    }
    if word.len() == meant.len() + 1 && one_insertion(meant, word) {
        return Some(Slip::Insertion);
    }
    None
}

/// Whether `long` is `short` with one letter inserted.
fn one_insertion(short: &[char], long: &[char]) -> bool {
    let i = short.iter().zip(long).take_while(|(a, b)| a == b).count();
    short[i..] == long[i + 1..]
}
