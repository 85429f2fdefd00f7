//! An app's log read back a page at a time: each line with its time when known and, when it is
//! a JSON object (the generated app's request lines), its fields; and a cursor, opaque to the
//! caller, to follow on from. Both deployers cut lines and pages to the same sizes here.

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RunnerError;

/// Most lines one page may ask for.
pub const MAX_LOG_LIMIT: u32 = 500;
/// Lines a page has when the caller does not say.
pub const DEFAULT_LOG_LIMIT: u32 = 100;
/// A line longer than this (in bytes) is cut, and not read as JSON.
pub const MAX_LINE_BYTES: usize = 4096;
/// A page stops once its lines, as the answer writes them (text, fields and escapes), hold this
/// many bytes: an answer stays far under the 6 MB a Lambda function may answer.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// The longest cursor taken back (a longer one was not handed out).
const MAX_CURSOR_CHARS: usize = 4096;

/// One line of an app's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// When it was written (RFC 3339), when known: CloudWatch's time of the event, or the
    /// line's own `ts`.
    pub ts: Option<String>,
    /// The line as the app wrote it, cut to 4096 bytes.
    pub text: String,
    /// The line's fields when it is a JSON object; the app's request lines have `ts`,
    /// `method`, `path`, `status`, `duration_ms` and `request_id`.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl LogLine {
    /// The bytes the line takes in an answer (its JSON), what a page's budget counts.
    pub(crate) fn weight(&self) -> usize {
        serde_json::to_vec(self).map_or(2 * self.text.len(), |json| json.len())
    }

    /// The line `text` (without its line break), written at `ts` when that is known.
    pub fn new(text: &str, ts: Option<String>) -> LogLine {
        let text = text.trim_end_matches(['\n', '\r']);
        let fields = if text.len() <= MAX_LINE_BYTES && text.starts_with('{') {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).ok()
        } else {
            None
        };
        let own_time = fields
            .as_ref()
            .and_then(|f| f.get("ts"))
            .and_then(|t| t.as_str())
            .filter(|t| t.len() <= 64)
            .map(str::to_owned);
        LogLine {
            ts: ts.or(own_time),
            text: cut(text, MAX_LINE_BYTES).to_owned(),
            fields,
        }
    }
}

/// `text` cut to at most `bytes` bytes, on a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Lines read, oldest first, and where to go on from.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// Pass back as `since` for the lines written after these (a log is never done).
    pub next: String,
}

/// The lines a page asked for `limit` holds at most: at least one, at most [`MAX_LOG_LIMIT`].
pub(crate) fn page_lines(limit: u32) -> usize {
    limit.clamp(1, MAX_LOG_LIMIT) as usize
}

/// Adds lines to a page until it holds `limit` of them or [`MAX_PAGE_BYTES`] of answer.
#[derive(Debug)]
pub(crate) struct PageBudget {
    limit: usize,
    bytes: usize,
}

impl PageBudget {
    /// A budget of `limit` lines ([`page_lines`]).
    pub(crate) fn new(limit: u32) -> PageBudget {
        PageBudget {
            limit: page_lines(limit),
            bytes: 0,
        }
    }

    /// Whether the page can take `line` too; takes it if so.
    pub(crate) fn take(&mut self, line: &LogLine) -> bool {
        let len = line.weight();
        if self.limit == 0 || (self.bytes > 0 && self.bytes + len > MAX_PAGE_BYTES) {
            return false;
        }
        self.limit -= 1;
        self.bytes += len;
        true
    }
}

/// A backend's position as a cursor: `kind` names the backend, so that one backend's cursor
/// is not taken for another's.
pub(crate) fn encode_cursor<T: Serialize>(kind: &str, position: &T) -> String {
    let json = serde_json::to_vec(position).expect("a position serializes");
    format!(
        "{kind}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    )
}

/// The position a cursor of `kind` holds; anything else is [`RunnerError::InvalidCursor`].
pub(crate) fn decode_cursor<T: DeserializeOwned>(
    kind: &str,
    cursor: &str,
) -> Result<T, RunnerError> {
    let invalid = || {
        RunnerError::InvalidCursor(
            "`since` is not a cursor this log handed out: pass back a page's `next_since`".into(),
        )
    };
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    let encoded = cursor
        .strip_prefix(kind)
        .and_then(|c| c.strip_prefix('.'))
        .ok_or_else(invalid)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&json).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_their_fields_and_time_and_others_are_text() {
        let line = LogLine::new(
            r#"{"ts":"2026-01-31T12:00:00.123Z","method":"GET","path":"/x","status":200}"#,
            None,
        );
        let fields = line.fields.as_ref().unwrap();
        assert_eq!(fields["status"], 200);
        assert_eq!(line.ts.as_deref(), Some("2026-01-31T12:00:00.123Z"));
        let given = LogLine::new(r#"{"ts":"own"}"#, Some("event".into()));
        assert_eq!(given.ts.as_deref(), Some("event"));
        let plain = LogLine::new("INFO:     Started server process [42]\n", None);
        assert_eq!(plain.text, "INFO:     Started server process [42]");
        assert_eq!((plain.fields, plain.ts), (None, None));
        assert!(LogLine::new("[1, 2]", None).fields.is_none());
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary_and_not_read_as_json() {
        let long = format!("{{\"path\":\"{}\"}}", "é".repeat(MAX_LINE_BYTES));
        let line = LogLine::new(&long, None);
        assert!(line.text.len() <= MAX_LINE_BYTES && line.text.len() > MAX_LINE_BYTES - 2);
        assert!(line.fields.is_none());
    }

    #[test]
    fn a_page_stops_at_its_limit_or_its_bytes() {
        let short = LogLine::new("short", None);
        let mut budget = PageBudget::new(3);
        assert!(budget.take(&short) && budget.take(&short) && budget.take(&short));
        assert!(!budget.take(&short));
        assert_eq!(page_lines(MAX_LOG_LIMIT + 100), MAX_LOG_LIMIT as usize);
        assert_eq!(page_lines(0), 1);
        // What counts is the line as the answer writes it: a control character is six bytes
        // there ("\u0001"), so 600 of them weigh more than 3,600 bytes, and a page holds
        // fewer than 1 MB / 3,600 of them (counting the text alone would take all 500).
        let escaped = LogLine::new(&"\u{1}".repeat(600), None);
        assert!(escaped.weight() > 3_600, "{}", escaped.weight());
        let mut budget = PageBudget::new(MAX_LOG_LIMIT);
        let taken = (0..MAX_LOG_LIMIT)
            .take_while(|_| budget.take(&escaped))
            .count();
        assert!(taken <= MAX_PAGE_BYTES / 3_600, "{taken}");
        // One line always fits, however long.
        let long = LogLine::new(&"x".repeat(MAX_LINE_BYTES), None);
        assert!(PageBudget::new(0).take(&long));
    }

    #[test]
    fn cursors_go_back_only_to_their_own_kind() {
        let cursor = encode_cursor("local", &("release", 42u64));
        let back: (String, u64) = decode_cursor("local", &cursor).unwrap();
        assert_eq!(back, ("release".into(), 42));
        for bad in [
            "",
            "local",
            "local.",
            "local.!!",
            "cloudwatch.eyJ9",
            &cursor.replacen("local", "cloudwatch", 1),
            &"local.".repeat(1000),
        ] {
            let r: Result<(String, u64), _> = decode_cursor("local", bad);
            assert!(matches!(r, Err(RunnerError::InvalidCursor(_))), "{bad}");
        }
    }
}
