//! An app's log on AWS: the CloudWatch Logs group its stack makes (`/kiln/apps/<stack>`,
//! one stream per task), read with `FilterLogEvents`, which interleaves the streams in time
//! order (events of one millisecond in no order they keep). A cursor is a time and the ids of the events at that time already given, so a read
//! from it gives each event once. AWS's rules that moto does not hold it to: a page asks for
//! 1 to 10,000 events and answers at most 1 MB, and may answer fewer events than asked with a
//! `nextToken` (so a read follows a bounded number of tokens); throttling is transient.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::EcsDeployer;
use crate::runner::logs::{decode_cursor, encode_cursor, page_lines, PageBudget};
use crate::runner::{LogLine, LogPage, RunnerError};

/// Cursors of CloudWatch logs start with this.
const KIND: &str = "cloudwatch";
/// The most events `FilterLogEvents` answers in one page (its `limit` is 1 to 10,000).
const FILTER_LIMIT_MAX: i32 = 10_000;
/// Pages one read asks for at most: a poll does a bounded amount of work.
const PAGES_PER_READ: usize = 4;
/// Without a cursor, the lines of this last stretch of time.
const RECENT: Duration = Duration::from_secs(5 * 60);
/// Most event ids a cursor keeps (those at its time, already given).
const MAX_SEEN: usize = 100;

/// Where a reader of the log group stands.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    /// Milliseconds since the epoch: no event before it is read again.
    t: i64,
    /// The ids of the events at `t` already given.
    seen: Vec<String>,
}

impl EcsDeployer {
    /// The IAM actions reading an app's log calls, on its stack's log group.
    pub const IAM_ACTIONS_TO_READ_LOGS: &'static [&'static str] = &["logs:FilterLogEvents"];

    /// The log group of a project environment's stack (the template's `Logs`).
    pub fn log_group_name(&self, stack: &str) -> String {
        format!("/kiln/apps/{stack}")
    }
}

/// The client the deployer reads logs with, or why there is none.
pub(super) fn client(
    logs: Option<&aws_sdk_cloudwatchlogs::Client>,
) -> Result<&aws_sdk_cloudwatchlogs::Client, RunnerError> {
    logs.ok_or_else(|| {
        RunnerError::Missing("this deployer was made without a CloudWatch Logs client".into())
    })
}

/// One event read: its time, id and line.
type Event = (i64, String, LogLine);

/// The page of the log group `group` after `since`, or its lines of the last
/// [`RECENT`] stretch before `now_ms` (the last `limit` of them) without one.
pub(super) async fn read(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    since: Option<&str>,
    limit: u32,
    now_ms: i64,
) -> Result<LogPage, RunnerError> {
    let tail = since.is_none();
    let from: Position = match since {
        Some(c) => decode_cursor(KIND, c)?,
        None => Position {
            t: now_ms - RECENT.as_millis() as i64,
            seen: Vec::new(),
        },
    };
    let wanted = page_lines(limit);
    // Raw until the page is cut: a tail may pass over tens of thousands of events, and only
    // the ones kept are read as lines.
    let mut events: std::collections::VecDeque<(i64, String, String)> = Default::default();
    let mut token: Option<String> = None;
    'pages: for _ in 0..PAGES_PER_READ {
        let asked = if tail {
            FILTER_LIMIT_MAX
        } else {
            // Room for the events at the cursor's time that are skipped.
            (wanted + from.seen.len()).min(FILTER_LIMIT_MAX as usize) as i32
        };
        // AWS has interleaved the streams in time order whatever this says since 2019 (so the
        // SDK calls it deprecated); moto interleaves only when asked, as AWS did before.
        #[allow(deprecated)]
        let answer = client
            .filter_log_events()
            .interleaved(true)
            .log_group_name(group)
            .start_time(from.t)
            .limit(asked)
            .set_next_token(token.take())
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            // The stack is being made (or was taken down): nothing to read now.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                break;
            }
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        for event in answer.events() {
            let (Some(t), Some(id)) = (event.timestamp(), event.event_id()) else {
                continue;
            };
            if t < from.t || (t == from.t && from.seen.iter().any(|s| s == id)) {
                continue;
            }
            let message = event.message().unwrap_or_default().to_owned();
            events.push_back((t, id.to_owned(), message));
            if tail && events.len() > wanted {
                events.pop_front();
            } else if !tail && events.len() >= wanted {
                break 'pages;
            }
        }
        match answer.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let events: Vec<Event> = events
        .into_iter()
        .map(|(t, id, message)| (t, id, LogLine::new(&message, rfc3339(t))))
        .collect();
    let events = fit(events, &mut PageBudget::new(limit), tail);
    Ok(LogPage {
        next: encode_cursor(KIND, &after(&from, &events)),
        lines: events.into_iter().map(|(_, _, line)| line).collect(),
    })
}

/// The events that fit the page's budget: the first ones, or the last ones of a tail.
fn fit(mut events: Vec<Event>, budget: &mut PageBudget, tail: bool) -> Vec<Event> {
    if tail {
        events.reverse();
    }
    let mut kept: Vec<Event> = Vec::new();
    for event in events {
        if !budget.take(&event.2) {
            break;
        }
        kept.push(event);
    }
    if tail {
        kept.reverse();
    }
    kept
}

/// The position after `events`, read from `from`.
fn after(from: &Position, events: &[Event]) -> Position {
    let Some((t, _, _)) = events.last() else {
        return Position {
            t: from.t,
            seen: from.seen.clone(),
        };
    };
    let mut seen: Vec<String> = if *t == from.t {
        from.seen.clone()
    } else {
        Vec::new()
    };
    seen.extend(
        events
            .iter()
            .filter(|(at, _, _)| at == t)
            .map(|(_, id, _)| id.clone()),
    );
    let keep_from = seen.len().saturating_sub(MAX_SEEN);
    Position {
        t: *t,
        seen: seen.split_off(keep_from),
    }
}

/// Milliseconds since the epoch as RFC 3339.
fn rfc3339(ms: i64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: i64, id: &str) -> Event {
        (t, id.into(), LogLine::new(id, rfc3339(t)))
    }

    #[test]
    fn a_cursor_keeps_the_ids_given_at_its_time() {
        let from = Position {
            t: 10,
            seen: vec!["a".into()],
        };
        let same = after(&from, &[event(10, "b")]);
        assert_eq!((same.t, same.seen), (10, vec!["a".into(), "b".into()]));
        let later = after(&from, &[event(10, "b"), event(12, "c"), event(12, "d")]);
        assert_eq!((later.t, later.seen), (12, vec!["c".into(), "d".into()]));
        let none = after(&from, &[]);
        assert_eq!((none.t, none.seen), (10, vec!["a".into()]));
        let many: Vec<Event> = (0..250).map(|i| event(20, &format!("e{i}"))).collect();
        let capped = after(&from, &many);
        assert_eq!(capped.seen.len(), MAX_SEEN);
        assert_eq!(capped.seen.last().map(String::as_str), Some("e249"));
    }

    #[test]
    fn a_tail_keeps_the_newest_lines_and_a_follow_the_oldest() {
        let events = || vec![event(1, "a"), event(2, "b"), event(3, "c")];
        let tail = fit(events(), &mut PageBudget::new(2), true);
        assert_eq!(
            tail.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        let follow = fit(events(), &mut PageBudget::new(2), false);
        assert_eq!(
            follow.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            rfc3339(1_769_860_800_123).as_deref(),
            Some("2026-01-31T12:00:00.123Z")
        );
    }
}
