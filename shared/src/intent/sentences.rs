//! A message cut into sentences, and a sentence into lower-case words: a full stop inside a
//! word ("v1.2") does not end a sentence, commas and colons are words of their own, and each
//! word is read through the typo mending of the action vocabulary.

use super::typos::correct;

/// One sentence as words, and whether it ended with a question mark.
pub(super) struct Sentence {
    pub(super) words: Vec<String>,
    pub(super) asks: bool,
}

pub(super) fn sentences(text: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A full stop inside a word ("v1.2", "e.g") does not end a sentence.
        let ends = matches!(c, '?' | '!' | '\n' | ';')
            || c == '.' && chars.peek().is_none_or(|n| n.is_whitespace());
        if ends {
            push_sentence(&mut out, &current, c == '?');
            current.clear();
        } else {
            current.push(c);
        }
    }
    push_sentence(&mut out, &current, false);
    out
}

fn push_sentence(out: &mut Vec<Sentence>, text: &str, asks: bool) {
    // Commas and colons stay as words of their own: they end a clause inside a sentence.
    let spaced = text.replace(',', " , ").replace(':', " : ");
    let words: Vec<String> = spaced
        .split_whitespace()
        .flat_map(|chunk| {
            if chunk == "," || chunk == ":" {
                vec![chunk.to_owned()]
            } else {
                // "re-generate" is "regenerate"; "yesterday's" is "yesterday".
                let joined = chunk.replace('-', "");
                normalize(&joined)
                    .into_iter()
                    .map(|w| correct(w.strip_suffix("'s").unwrap_or(&w)))
                    .collect()
            }
        })
        .collect();
    let words = if words.iter().all(|w| w == "," || w == ":") {
        Vec::new()
    } else {
        words
    };
    if words.is_empty() {
        if asks {
            if let Some(last) = out.last_mut() {
                last.asks = true;
            }
        }
        return;
    }
    out.push(Sentence { words, asks });
}

pub(super) fn normalize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['’', '‘'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == '#' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}
