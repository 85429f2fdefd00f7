//! A local app's log read back from its release's `server.log`: never the whole file, only a
//! bounded read from a byte offset (the cursor), whole lines only, so that a line still being
//! written comes whole on a later read. A cursor of a release that was replaced since (a new
//! rollout, with a log of its own) goes on from the start of the new release's log.

use std::io::SeekFrom;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::runner::logs::{decode_cursor, encode_cursor, PageBudget, MAX_PAGE_BYTES};
use crate::runner::{LogLine, LogPage, RunnerError};

/// Cursors of local logs start with this.
const KIND: &str = "local";

/// Most bytes one read takes from the file: a page's worth, and a line's more.
const READ_BYTES: u64 = MAX_PAGE_BYTES as u64 + crate::runner::logs::MAX_LINE_BYTES as u64;

/// Where a reader of the log stands.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    /// The release whose log it is (its directory's name).
    release: String,
    /// The bytes of that log already read.
    offset: u64,
}

/// The page of `log` (the log of `release`) after `since`, or its last lines without one.
pub(super) async fn read(
    log: &Path,
    release: &str,
    since: Option<&str>,
    limit: u32,
) -> Result<LogPage, RunnerError> {
    let io = |e: std::io::Error| RunnerError::Process(format!("reading the app's log: {e}"));
    let since: Option<Position> = since.map(|c| decode_cursor(KIND, c)).transpose()?;
    let mut file = match tokio::fs::File::open(log).await {
        Ok(f) => f,
        // Not written yet, or its release was just replaced: nothing to read now.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let offset = since
                .filter(|p| p.release == release)
                .map_or(0, |p| p.offset);
            return Ok(page(Vec::new(), release, offset));
        }
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().await.map_err(io)?.len();
    let start = match &since {
        // The same release's log, not cut short since: on from where the reader stopped.
        Some(p) if p.release == release && p.offset <= len => p.offset,
        Some(_) => 0,
        None => len.saturating_sub(READ_BYTES),
    };
    file.seek(SeekFrom::Start(start)).await.map_err(io)?;
    let mut bytes = Vec::new();
    file.take(READ_BYTES.min(len - start))
        .read_to_end(&mut bytes)
        .await
        .map_err(io)?;
    let mut budget = PageBudget::new(limit);
    if since.is_none() {
        return Ok(tail(&bytes, start, release, &mut budget));
    }
    let mut lines = Vec::new();
    let mut consumed = 0usize;
    for line in whole_lines(&bytes) {
        let read = LogLine::new(&String::from_utf8_lossy(line), None);
        if !budget.take(&read) {
            break;
        }
        lines.push(read);
        consumed += line.len();
    }
    if lines.is_empty() && bytes.len() as u64 == READ_BYTES {
        // One line longer than a whole read: shown cut, and passed over.
        lines.push(LogLine::new(&String::from_utf8_lossy(&bytes), None));
        consumed = bytes.len();
    }
    Ok(page(lines, release, start + consumed as u64))
}

/// The last lines of `bytes` (read from `start`) that fit the budget, and a cursor after them.
fn tail(bytes: &[u8], start: u64, release: &str, budget: &mut PageBudget) -> LogPage {
    let mut lines: Vec<&[u8]> = whole_lines(bytes).collect();
    // A read that starts inside the file starts inside a line: that part is not a line.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let end: usize = whole_lines(bytes).map(<[u8]>::len).sum();
    let mut kept = Vec::new();
    for line in lines.iter().rev() {
        let read = LogLine::new(&String::from_utf8_lossy(line), None);
        if !budget.take(&read) {
            break;
        }
        kept.push(read);
    }
    kept.reverse();
    page(kept, release, start + end as u64)
}

/// The complete lines of `bytes`, each with its line break; a last line without one is still
/// being written and is left for a later read.
fn whole_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
}

fn page(lines: Vec<LogLine>, release: &str, offset: u64) -> LogPage {
    LogPage {
        lines,
        next: encode_cursor(
            KIND,
            &Position {
                release: release.to_owned(),
                offset,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(page: &LogPage) -> Vec<&str> {
        page.lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[tokio::test]
    async fn the_tail_then_what_follows_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(&log, "one\n{\"status\":200}\nthree\nfour, still being writ").unwrap();
        let first = read(&log, "r1", None, 2).await.unwrap();
        assert_eq!(texts(&first), ["{\"status\":200}", "three"]);
        assert_eq!(first.lines[0].fields.as_ref().unwrap()["status"], 200);
        let nothing = read(&log, "r1", Some(&first.next), 10).await.unwrap();
        assert!(nothing.lines.is_empty());
        assert_eq!(nothing.next, first.next);

        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        write!(f, "ten\nfive\nsix\n").unwrap();
        let next = read(&log, "r1", Some(&first.next), 2).await.unwrap();
        assert_eq!(texts(&next), ["four, still being written", "five"]);
        let last = read(&log, "r1", Some(&next.next), 10).await.unwrap();
        assert_eq!(texts(&last), ["six"]);
    }

    #[tokio::test]
    async fn a_new_release_is_read_from_its_start_and_a_huge_file_is_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.log");
        std::fs::write(&old, "a\nb\n").unwrap();
        let page_old = read(&old, "r1", None, 10).await.unwrap();
        let new = dir.path().join("new.log");
        std::fs::write(&new, "started\n").unwrap();
        let moved = read(&new, "r2", Some(&page_old.next), 10).await.unwrap();
        assert_eq!(texts(&moved), ["started"]);
        // A file cut shorter than the cursor is read again from its start.
        std::fs::write(&old, "x\n").unwrap();
        let cut = read(&old, "r1", Some(&page_old.next), 10).await.unwrap();
        assert_eq!(texts(&cut), ["x"]);

        // Lines of about 4 kB: a page of 500 would be 2 MB, three reads' worth of file.
        let line = format!("{}\n", "y".repeat(3999));
        let big = dir.path().join("big.log");
        std::fs::write(&big, line.repeat(3 * READ_BYTES as usize / 4000)).unwrap();
        let tail = read(&big, "r3", None, 5).await.unwrap();
        assert_eq!(tail.lines.len(), 5);
        let start = read(
            &big,
            "r3",
            Some(&encode_cursor(
                KIND,
                &Position {
                    release: "r3".into(),
                    offset: 0,
                },
            )),
            500,
        )
        .await
        .unwrap();
        // The page stops at its size, well before the lines asked for, and nearly full.
        let answer = serde_json::to_vec(&start.lines).unwrap().len();
        assert!(answer <= MAX_PAGE_BYTES + start.lines.len(), "{answer}");
        assert!(answer > MAX_PAGE_BYTES - 2 * line.len(), "{answer}");
        assert!(start.lines.len() < 500, "{}", start.lines.len());
    }

    #[tokio::test]
    async fn a_line_longer_than_a_read_is_passed_over_cut() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let huge = "z".repeat(READ_BYTES as usize + 10);
        std::fs::write(&log, format!("{huge}\nafter\n")).unwrap();
        let from_start = encode_cursor(
            KIND,
            &Position {
                release: "r".into(),
                offset: 0,
            },
        );
        let first = read(&log, "r", Some(&from_start), 10).await.unwrap();
        assert_eq!(first.lines.len(), 1);
        assert!(first.lines[0].text.len() <= crate::runner::logs::MAX_LINE_BYTES);
        let mut next = first.next;
        let mut seen = Vec::new();
        for _ in 0..3 {
            let page = read(&log, "r", Some(&next), 10).await.unwrap();
            seen.extend(page.lines.iter().map(|l| l.text.clone()));
            next = page.next;
        }
        assert_eq!(seen.last().map(String::as_str), Some("after"));
    }

    #[tokio::test]
    async fn a_missing_log_is_empty_and_a_foreign_cursor_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("none.log");
        assert!(read(&log, "r", None, 10).await.unwrap().lines.is_empty());
        let err = read(&log, "r", Some("cloudwatch.e30"), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, RunnerError::InvalidCursor(_)), "{err}");
    }
}
