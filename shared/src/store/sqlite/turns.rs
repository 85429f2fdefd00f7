//! Whose turn it is: the run an earlier one of its project still holds up.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{backend, from_doc};
use crate::model::Run;
use crate::store::StoreResult;

/// The oldest queued or running run among the project's `lookback` runs made before `run_id`.
/// The window's start is the `lookback`-th run before (`runs_by_project`), the statuses come
/// from the rows, and only the one found is read into a run: a run waiting behind many
/// queued ones reads one document, not `lookback`.
pub(super) fn oldest_unfinished_before(
    c: &Connection,
    project_id: &str,
    run_id: &str,
    lookback: u32,
) -> StoreResult<Option<Run>> {
    let doc: Option<String> = c
        .prepare_cached(
            "SELECT doc FROM runs
             WHERE project_id = ?1 AND id < ?2 AND status IN ('queued', 'running')
               AND id >= coalesce((SELECT id FROM runs WHERE project_id = ?1 AND id < ?2
                                   ORDER BY id DESC LIMIT 1 OFFSET ?3 - 1), '')
             ORDER BY id LIMIT 1",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![project_id, run_id, lookback], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    doc.as_deref().map(from_doc).transpose()
}
