//! The v2 router on the local backend (SQLite on disk), driven request by request.
//!
//! `common` makes the app and calls it as a client would; the tests are grouped by area.

mod clone;
mod common;
mod concurrency;
mod conversation;
mod cost;
mod edits;
mod fix;
mod fix_model;
mod history;
mod limits;
mod logs;
mod model;
mod oidc;
mod owners;
mod paging;
mod projects;
mod review;
mod versions;
