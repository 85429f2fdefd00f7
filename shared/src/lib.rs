//! Kiln: describe an HTTP API in chat; a crew of agents plans, builds, tests and deploys it.
//!
//! This crate holds the domain and its ports (traits) with their backends, and the v2 HTTP API.
//! The binaries (`kiln`, the Lambda functions) only build backends from [`config::Config`] and
//! call in here.

pub mod agents;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "bedrock")]
pub mod aws_http;
pub mod backends;
pub mod config;
pub mod generator;
pub mod https;
pub mod intent;
pub mod model;
pub mod review;
pub mod runner;
pub mod spec;
pub mod store;
pub mod understand;
pub mod workflow;
