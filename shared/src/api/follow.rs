//! Following a conversation without a stream: the `after` mark a conversation answer hands
//! out, and what changed since one (`GET …/conversation?after=`).
//!
//! A mark holds when the client last looked, the ids it has been given that were made within
//! [`WINDOW`] of then, the runs that were still going, and the oldest message of the page it
//! was handed out with. The next look asks the store for the messages made since a [`WINDOW`]
//! before the last (a message is written a moment after its id is made, so one made before a
//! look may land after it), leaves out those already given and those older than that page
//! (they are on the pages before it, which the client reads or may read), and reads the runs
//! that were going and those of the new messages.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::conversation::MessagePage;
use super::error::ApiError;
use super::AppState;
use crate::model::{now, Message, Run, RunStatus};
use crate::store::{decode_cursor, encode_cursor, MessageJson, StoreError, MAX_PAGE};

/// How long before a look the next one reads again from.
pub const WINDOW: Duration = Duration::seconds(60);
/// Most message ids a mark holds.
const MOST_SEEN: usize = 2 * MAX_PAGE as usize;
/// Most runs a mark follows.
const MOST_RUNS: usize = 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mark {
    /// When the client looked, in Unix milliseconds.
    t: i64,
    /// Ids given to the client that were made within [`WINDOW`] of `t`.
    seen: Vec<Uuid>,
    /// Runs that were queued or running.
    runs: Vec<Uuid>,
    /// The oldest message of the page the first mark was handed out with: every message made
    /// before it is on a page before that one, not new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<Uuid>,
}

fn bad_mark() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_query",
        "`after` is not a mark this server handed out (take it from a conversation answer)",
    )
}

/// The mark `after`, and when its look was.
fn decode(after: &str) -> Result<(Mark, OffsetDateTime), ApiError> {
    let text = decode_cursor(after).map_err(|_| bad_mark())?;
    let mark: Mark = serde_json::from_str(&text).map_err(|_| bad_mark())?;
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(mark.t) * 1_000_000)
        .map_err(|_| bad_mark())?;
    if mark.seen.len() > MOST_SEEN || mark.runs.len() > MOST_RUNS || t > now() + WINDOW {
        return Err(bad_mark());
    }
    Ok((mark, t))
}

/// When a UUIDv7 was made.
fn made_at(id: Uuid) -> Option<OffsetDateTime> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
        .ok()
}

/// The mark of a look at `at` after which the client has `given` (and earlier, `seen`, and
/// every message made before `from`), with `runs` still going.
fn mark(
    at: OffsetDateTime,
    seen: &[Uuid],
    given: &[Uuid],
    runs: &[Run],
    from: Option<Uuid>,
) -> String {
    let window = at - WINDOW;
    let mut ids: Vec<Uuid> = seen
        .iter()
        .chain(given)
        .copied()
        .filter(|id| made_at(*id).is_some_and(|t| t >= window))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // The newest are the ones a next look can meet again.
    ids.drain(..ids.len().saturating_sub(MOST_SEEN));
    let mut going: Vec<Uuid> = runs
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running))
        .map(|r| r.id)
        .collect();
    going.truncate(MOST_RUNS);
    let mark = Mark {
        t: (at.unix_timestamp_nanos() / 1_000_000) as i64,
        seen: ids,
        runs: going,
        from,
    };
    encode_cursor(&serde_json::to_string(&mark).unwrap_or_default())
}

/// The runs of `ids` as stored now, each once; a run that is gone is left out.
async fn runs_now(state: &AppState, project_id: Uuid, ids: &[Uuid]) -> Result<Vec<Run>, ApiError> {
    let mut runs = Vec::new();
    let mut read = BTreeSet::new();
    for id in ids {
        if !read.insert(*id) {
            continue;
        }
        match state.agents.projects.get_run(project_id, *id).await {
            Ok(run) => runs.push(run),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(runs)
}

/// The mark for a client that has just read the last page of the conversation, `last`,
/// looking at `at`: the runs of its newest user messages that are still going are followed,
/// and the messages before the page are not new (the client has them, or pages back to them).
pub(super) async fn mark_after_last_page(
    state: &AppState,
    project_id: Uuid,
    at: OffsetDateTime,
    last: &[MessageJson],
) -> Result<String, ApiError> {
    let last: Vec<Head> = last
        .iter()
        .map(|m| serde_json::from_str(m.get()))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::from(StoreError::corrupt("a stored message", e)))?;
    let newest_runs: Vec<Uuid> = last
        .iter()
        .rev()
        .filter(|m| m.role == crate::model::Role::User)
        .filter_map(|m| m.run_id)
        .take(5)
        .collect();
    let runs = runs_now(state, project_id, &newest_runs).await?;
    let ids: Vec<Uuid> = last.iter().map(|m| m.id).collect();
    let from = ids.iter().copied().min();
    Ok(mark(at, &[], &ids, &runs, from))
}

/// What a mark needs of a message.
#[derive(Deserialize)]
struct Head {
    id: Uuid,
    role: crate::model::Role,
    run_id: Option<Uuid>,
}

/// What changed in the conversation since `after`: the new messages, oldest first, and the
/// runs that were going or belong to them, as they are now.
pub(super) async fn changes(
    state: &AppState,
    project_id: Uuid,
    after: &str,
) -> Result<MessagePage, ApiError> {
    let (before, looked_before) = decode(after)?;
    let at = now();
    let found = state
        .agents
        .projects
        .messages_made_since(project_id, looked_before - WINDOW, MAX_PAGE)
        .await?;
    let full = found.len() >= MAX_PAGE as usize;
    let new: Vec<Message> = found
        .into_iter()
        .filter(|m| !before.seen.contains(&m.id) && before.from.is_none_or(|from| m.id >= from))
        .collect();
    let wanted: Vec<Uuid> = before
        .runs
        .iter()
        .copied()
        .chain(new.iter().filter_map(|m| m.run_id))
        .collect();
    let runs = runs_now(state, project_id, &wanted).await?;
    // A full answer may have left newer messages out: the next look starts where this did.
    let looked = if full { looked_before } else { at };
    let given: Vec<Uuid> = new.iter().map(|m| m.id).collect();
    let after = mark(looked, &before.seen, &given, &runs, before.from);
    Ok(MessagePage {
        items: new,
        next_cursor: None,
        before: None,
        after: Some(after),
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_read_back_and_anything_else_is_refused() {
        let at = now();
        let text = mark(at, &[], &[], &[], None);
        let (back, _) = decode(&text).unwrap();
        assert_eq!(back.t, (at.unix_timestamp_nanos() / 1_000_000) as i64);
        for bad in [
            "",
            "abc",
            "eyJ0IjoxfQ",
            &encode_cursor("{\"t\":1,\"seen\":[],\"runs\":[],\"x\":1}"),
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        // A mark from the future is not one this server handed out.
        let later = mark(at + Duration::hours(1), &[], &[], &[], None);
        assert!(decode(&later).is_err());
    }

    #[test]
    fn a_mark_keeps_only_what_a_next_look_can_meet_again() {
        let at = now();
        let fresh = uuid::Uuid::now_v7();
        let old = crate::store::first_id_at(at - Duration::minutes(5));
        let (back, _) = decode(&mark(at, &[old, fresh], &[], &[], Some(old))).unwrap();
        assert_eq!(back.seen, [fresh]);
        assert_eq!(back.from, Some(old), "the page's oldest message is kept");
    }
}
