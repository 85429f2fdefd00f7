//! User text and values written into generated files: Python string literals, tuples and
//! values that read back exactly, and Markdown text that shows literally.

/// A Python string literal that reads back as exactly `s`, written in plain ASCII.
pub fn python_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Markdown text that shows `s` literally on one line: markup characters are escaped.
pub fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '<' | '>' | '&' | '~' | '"' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

pub(super) fn py_tuple(items: &[String]) -> String {
    match items {
        [] => "()".to_owned(),
        [one] => format!("({},)", python_literal(one)),
        many => format!(
            "({})",
            many.iter()
                .map(|s| python_literal(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn python_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => python_literal(s),
        _ => "None".into(),
    }
}
