//! Text → sentences → tokens.
//!
//! Markdown emphasis and code marks are dropped; `w/` reads as "with", `&` and `+` between
//! words as "and". A list under a line that ends with a colon belongs to that line when the
//! line names what the list is of ("Tasks have:", "Members:"); under a heading such as "Here's
//! what I need:" each item is a sentence of its own. Sentences end at `.` `!` `?` `;`, at a
//! line break, and at a dash standing alone.

/// The sentences of a message, each as tokens.
pub(super) fn sentences(text: &str) -> Vec<Vec<String>> {
    let text = text
        .replace(['’', '‘'], "'")
        .replace(['“', '”'], "\"")
        .replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .replace(['—', '–'], " - ")
        .replace("w/o ", "without ")
        .replace("W/o ", "without ")
        .replace("w/ ", "with ")
        .replace("W/ ", "with ")
        .replace(" & ", " and ")
        .replace(" + ", " and ")
        .replace("date and time", "datetime")
        .replace("date & time", "datetime");
    let mut out = Vec::new();
    for line in joined_lines(&text) {
        let line = dashes_as_parentheses(&line);
        for sentence in split_sentences(&line) {
            let tokens = tokens_of(&sentence);
            if !tokens.is_empty() {
                out.push(tokens);
            }
        }
    }
    out
}

/// "a list of owners - their name, phone and email - and then the pets": a pair of dashes
/// encloses an aside, read as a parenthesis.
fn dashes_as_parentheses(line: &str) -> String {
    let parts: Vec<&str> = line.split(" - ").collect();
    match parts.len() {
        3 => format!("{} ({}) {}", parts[0], parts[1], parts[2]),
        // "Wedding - couple names, date, venue": a short name before a dash heads a list.
        2 if parts[0].split_whitespace().count() <= 3 && parts[1].contains(',') => {
            format!("{}: {}", parts[0], parts[1])
        }
        _ => line.to_owned(),
    }
}

/// A bullet or numbered list item's text, without its marker.
fn bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in ["- ", "* ", "• ", "+ "] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some(rest);
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r);
        }
    }
    None
}

/// Words that make a line ending in a colon a heading, not the subject of the list below it.
const HEADINGS: &[&str] = &[
    "here",
    "here's",
    "heres",
    "need",
    "want",
    "following",
    "requirements",
    "features",
    "like",
    "spec",
    "details",
    "what",
    "goes",
    "summary",
    "things",
    "stuff",
    "overview",
    "todo",
    "notes",
    "changes",
    "also",
    "resources",
    "entities",
    "models",
    "tables",
    "data",
    "objects",
];

/// Lines, with the items of a list joined to the line that names what they are of.
fn joined_lines(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim().trim_start_matches('#').trim();
        i += 1;
        let Some(head) = line.strip_suffix(':') else {
            out.push(bullet(line).unwrap_or(line).to_owned());
            continue;
        };
        let mut items = Vec::new();
        while i < lines.len() {
            let next = lines[i].trim();
            if next.is_empty() && items.is_empty() {
                i += 1;
                continue;
            }
            match bullet(next) {
                Some(item) => items.push(item.trim().trim_end_matches(['.', ',', ';']).to_owned()),
                None => break,
            }
            i += 1;
        }
        let head_words = tokens_of(head);
        let is_heading = head_words.is_empty()
            || head_words.iter().any(|w| HEADINGS.contains(&w.as_str()))
            || items
                .iter()
                .any(|item| item.contains(':') || item.contains(" - "));
        if items.is_empty() || is_heading {
            out.push(bullet(line).unwrap_or(line).to_owned());
            out.extend(items);
        } else {
            out.push(format!(
                "{}: {}",
                bullet(head).unwrap_or(head),
                items.join(", ")
            ));
        }
    }
    out
}

/// Splits a line at sentence ends: `.` before a space or the end (not inside "1.5"), `!`,
/// `?`, `;`, and a dash standing alone.
fn split_sentences(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let ends = match c {
            '.' => next.is_none_or(char::is_whitespace),
            '!' | '?' | ';' => true,
            '-' => prev.is_some_and(char::is_whitespace) && next.is_some_and(char::is_whitespace),
            _ => false,
        };
        if ends {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Tokens of a clause: lower-case words, and `,` `/` `(` `)` `:` `|` as tokens of their own.
/// A possessive `'s` is dropped ("the patient's name" → "the patient name").
pub(super) fn tokens_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    for c in lower.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
            continue;
        }
        if c == '\'' && !word.is_empty() {
            // "task's" → "task"; "don't" → "dont"
            word.push('\'');
            continue;
        }
        flush_word(&mut word, &mut out);
        if matches!(c, ',' | '/' | '(' | ')' | ':' | '|') {
            out.push(c.to_string());
        }
    }
    flush_word(&mut word, &mut out);
    out
}

fn flush_word(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    let w = word.trim_matches(|c| c == '-' || c == '\'');
    // "it's", "that's": a pronoun and `is`, not a possessive.
    if let Some(p @ ("it" | "that" | "this" | "there" | "what")) = w.strip_suffix("'s") {
        out.push(p.to_owned());
        out.push("is".to_owned());
        word.clear();
        return;
    }
    let w = w.strip_suffix("'s").unwrap_or(w).replace('\'', "");
    if !w.is_empty() {
        out.push(w);
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(text: &str) -> Vec<String> {
        sentences(text).into_iter().map(|t| t.join(" ")).collect()
    }

    #[test]
    fn a_list_under_a_subject_belongs_to_it() {
        assert_eq!(
            joined("Tasks have:\n- a title\n- a due date\n\nUse postgres."),
            ["tasks have : a title , a due date", "use postgres"]
        );
    }

    #[test]
    fn a_list_under_a_heading_is_sentences() {
        assert_eq!(
            joined("Here's what I need:\n\n- **Students**: first name, email\n- Courses: code"),
            [
                "here what i need :",
                "students : first name , email",
                "courses : code"
            ]
        );
    }

    #[test]
    fn sentences_end_at_stops_but_not_inside_numbers() {
        assert_eq!(
            joined("rooms w/ a rate & a floor. oh and guests - name"),
            ["rooms with a rate and a floor", "oh and guests", "name"]
        );
        assert_eq!(joined("a price of 2.50. done"), ["a price of 2 50", "done"]);
    }
}
