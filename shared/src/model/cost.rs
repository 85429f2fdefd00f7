//! What running a version on AWS would cost a month: an itemised estimate, shown before the
//! first deploy of a version to an environment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One line of an estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostItem {
    /// What is paid for ("Fargate vCPU (arm64)").
    pub name: String,
    /// How much of it, and at what price ("1 task × 0.25 vCPU × 730 h at $0.03238").
    pub detail: String,
    /// Its monthly cost in US dollars.
    pub monthly_usd: f64,
}

/// A month of running one version in one environment on AWS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostEstimate {
    /// The AWS region priced.
    pub region: String,
    /// The date of the price table used.
    pub prices_date: String,
    /// The lines, in the order shown.
    pub items: Vec<CostItem>,
    /// Their sum, in US dollars.
    pub monthly_usd: f64,
    /// Whether this installation pays it (on AWS); locally the deploy itself is free and the
    /// estimate says what the same version would cost on AWS.
    pub billed: bool,
    /// What the figures take for granted (traffic, image size, database use), one line each.
    pub assumptions: Vec<String>,
}
