//! The understanding benchmark: conversations written by people who had not read Kiln's rules,
//! each with the spec it should end in, replayed through the same classifier and reader the
//! product manager uses, and scored per conversation and overall.
//!
//! The cases live in `tests/understanding/cases/` and are never edited to fit the reader; see
//! the README there for how they were written.
//!
//! `case` reads the cases, `replay` replays one, `scoring` scores it against what it should end
//! in, and `report` writes the table of every case; `intents` measures the intent classifier on
//! the labelled short messages.

mod case;
pub mod e2e;
mod intents;
pub mod references;
mod replay;
mod report;
mod scoring;

pub use case::{
    cases, json_lists, Case, CaseMessage, Expected, ExpectedFeatures, ExpectedField,
    ExpectedResource, NewProject,
};
pub use intents::{intent_messages, intent_report, label};
pub use replay::{replay, replay_with, trace, Outcome, Reader};
pub use report::{run_all, run_all_with};
pub use scoring::{score, Score, Tally};
