//! The README's claims about building, testing and deploying, each through a real `kiln serve`
//! and the apps it runs, so that a claim that stops being true fails here.
//!
//! `support` holds the spec every test starts from and the calls they share; the claims are
//! grouped by area.

#[path = "../common/mod.rs"]
mod common;

mod aws;
mod data;
mod deployments;
mod dockerfile;
mod pipeline;
mod qa;
mod support;
mod toolbox;
mod virtualenv;
