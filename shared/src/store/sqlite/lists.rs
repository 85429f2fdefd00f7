//! Lists read more than one way: an owner's projects, every one or those whose name holds a
//! text; a conversation read from its end, a page at a time.

use rusqlite::{params, Connection};

use super::rows::{backend, from_doc};
use super::SqliteStore;
use crate::model::{Message, Owner, Project, ProjectSummary, MESSAGE_FORMAT, PROJECT_FORMAT};
use crate::store::{
    decode_back_cursor, decode_cursor, encode_back_cursor, encode_cursor, fold_case, MessageJson,
    Named, Page, PageRequest, ProjectJson, StoreError, StoreResult, StoredJson, SummaryJson,
};

/// Where a page of an owner's projects starts: after `(updated_us, id)` of the last project
/// handed out, `"updated_us|id"` in the cursor.
pub(super) fn projects_after(page: &PageRequest) -> StoreResult<Option<(i64, String)>> {
    page.cursor
        .as_deref()
        .map(|c| {
            let pos = decode_cursor(c)?;
            let (us, id) = pos.split_once('|').ok_or(StoreError::BadCursor)?;
            let us: i64 = us.parse().map_err(|_| StoreError::BadCursor)?;
            let id: uuid::Uuid = id.parse().map_err(|_| StoreError::BadCursor)?;
            Ok((us, id.to_string()))
        })
        .transpose()
}

/// An owner's projects after a position, newest first; the first page starts after
/// `(i64::MAX, '')`, before every project.
pub(super) const OWNER_PROJECTS: &str = "SELECT updated_us, id, summary FROM projects
     WHERE owner = ?1 AND (updated_us, id) < (?2, ?3)
     ORDER BY updated_us DESC, id DESC LIMIT ?4";

/// A page of the owner's projects, most recently updated first, after `after`; with `text`,
/// only those whose name holds it ignoring case.
///
/// The search reads the owner's projects, not the table: the rows of the owner's range of the
/// index `projects_by_owner`, newest first, each name folded by [`fold_case`] and compared here
/// (so `text` never reaches SQL, and no character in it is a pattern), until one more than the
/// page matched or the owner's projects end.
///
/// Each item is `read` from the project's `summary` column (its spec and design are not read
/// at all): into a [`ProjectSummary`] ([`summary`]), or as the JSON it is ([`summary_json`]).
pub(super) fn owner_projects<T>(
    c: &Connection,
    owner: &str,
    after: Option<(i64, String)>,
    limit: u32,
    text: Option<&str>,
    read: fn(String) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let (after_us, after_id) = after.unwrap_or((i64::MAX, String::new()));
    let folded = text.map(fold_case);
    let mut stmt = c.prepare_cached(OWNER_PROJECTS).map_err(backend)?;
    // The list reads one more than the page; the search reads on (no limit: -1) until that
    // many matched.
    let most: i64 = if folded.is_none() {
        i64::from(limit) + 1
    } else {
        -1
    };
    let mut rows = stmt
        .query(params![owner, after_us, after_id, most])
        .map_err(backend)?;
    // One more than the page, to know whether there is a next.
    let mut kept: Vec<(i64, String, String)> = Vec::new();
    while kept.len() <= limit as usize {
        let Some(row) = rows.next().map_err(backend)? else {
            break;
        };
        let summary: String = row.get(2).map_err(backend)?;
        if let Some(folded) = &folded {
            if !from_doc::<Named>(&summary)?.holds(folded) {
                continue;
            }
        }
        kept.push((
            row.get(0).map_err(backend)?,
            row.get(1).map_err(backend)?,
            summary,
        ));
    }
    let more = kept.len() > limit as usize;
    kept.truncate(limit as usize);
    let next_cursor = match (more, kept.last()) {
        (true, Some((us, id, _))) => Some(encode_cursor(&format!("{us}|{id}"))),
        _ => None,
    };
    let items = kept
        .into_iter()
        .map(|(_, _, summary)| read(summary))
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, next_cursor })
}

impl SqliteStore {
    /// A page of the owner's projects ([`owner_projects`]), each summary handed out by `read`:
    /// on the calling thread, or, for a search (`text`), which may walk many rows, off the
    /// runtime's threads.
    pub(super) async fn owner_page<T: Send + 'static>(
        &self,
        owner: &Owner,
        text: Option<&str>,
        page: &PageRequest,
        read: fn(String) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let (owner, after, limit) = (owner.0.clone(), projects_after(page)?, page.limit());
        match text {
            None => self.read(|c| owner_projects(c, &owner, after, limit, None, read)),
            Some(text) => {
                let text = text.to_owned();
                self.read_long(move |c| owner_projects(c, &owner, after, limit, Some(&text), read))
                    .await
            }
        }
    }
}

/// A project's summary column read as a summary.
pub(super) fn summary(column: String) -> StoreResult<ProjectSummary> {
    from_doc(&column)
}

/// A project's summary column as an answer holds it: checked to be JSON, not read into a
/// summary. Every row's summary is written in this build's shape (by each create and save,
/// and by the schema's migrations for the rows before: `schema.rs`), so it is handed out as
/// stored; `api::tests::summary_format_follows_the_schema` fails when the shape changes.
pub(super) fn summary_json(column: String) -> StoreResult<SummaryJson> {
    serde_json::value::RawValue::from_string(column)
        .map_err(|e| StoreError::corrupt("a stored project summary", e))
}

/// The `seq` a backward page of a conversation ends before.
pub(super) fn messages_before(page: &PageRequest) -> StoreResult<Option<i64>> {
    page.cursor
        .as_deref()
        .map(|c| {
            decode_back_cursor(c)?
                .parse()
                .map_err(|_| StoreError::BadCursor)
        })
        .transpose()
}

/// How a message row is handed out: from its JSON and the shape it was written in.
pub(super) type FromRow<T> = fn(String, i64) -> StoreResult<T>;

impl SqliteStore {
    /// A page of the project's messages, handed out oldest first, each by `read`: forwards,
    /// the first `limit` after the cursor's `seq` (from the start without one); or backwards,
    /// the `limit` before it (the newest without one), over the index `messages_by_project`.
    pub(super) fn messages<T>(
        &self,
        project_id: uuid::Uuid,
        page: &PageRequest,
        forwards: bool,
        read: FromRow<T>,
    ) -> StoreResult<Page<T>> {
        let (sql, bound) = if forwards {
            (
                "SELECT seq, doc, format FROM messages WHERE project_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
                super::rows::cursor_position(page)?.unwrap_or(0),
            )
        } else {
            (
                "SELECT seq, doc, format FROM messages WHERE project_id = ?1 AND seq < ?2
                 ORDER BY seq DESC LIMIT ?3",
                messages_before(page)?.unwrap_or(i64::MAX),
            )
        };
        let (project_id, limit) = (project_id.to_string(), page.limit());
        let mut rows: Vec<(i64, String, i64)> = self.read(|c| {
            c.prepare_cached(sql)
                .and_then(|mut stmt| {
                    stmt.query_map(params![project_id, bound, limit + 1], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(backend)
        })?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if !forwards {
            rows.reverse();
        }
        // Forwards the next page starts after the last row; backwards, before the first.
        let next_cursor = match (more, forwards) {
            (true, true) => rows
                .last()
                .map(|(seq, _, _)| encode_cursor(&seq.to_string())),
            (true, false) => rows
                .first()
                .map(|(seq, _, _)| encode_back_cursor(&seq.to_string())),
            (false, _) => None,
        };
        let items = rows
            .into_iter()
            .map(|(_, doc, format)| read(doc, format))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }
}

/// A message read from its row's JSON, whatever shape it was written in.
pub(super) fn message(doc: String, _format: i64) -> StoreResult<Message> {
    from_doc(&doc)
}

/// A message row's JSON as an answer holds it ([`row_json`]).
pub(super) fn message_json(doc: String, format: i64) -> StoreResult<MessageJson> {
    row_json::<Message>(doc, format, MESSAGE_FORMAT)
}

/// A project row's JSON as `GET /projects/{id}` answers it ([`row_json`]).
pub(super) fn project_json(doc: String, format: i64) -> StoreResult<ProjectJson> {
    row_json::<Project>(doc, format, PROJECT_FORMAT)
}

/// A row's JSON as an answer holds it: as stored when it was written in this build's shape
/// (`current`; not parsed: the schema's triggers keep anything but JSON out of the column, and
/// a row from before them that is not JSON was given shape 0 when they were made,
/// `schema::ensure_json_docs`), else read as a `T` and written again.
fn row_json<T>(doc: String, format: i64, current: i64) -> StoreResult<StoredJson>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    if format == current {
        Ok(StoredJson::kept(doc))
    } else {
        StoredJson::encode(&from_doc::<T>(&doc)?)
    }
}
