//! What understanding with a language model cost: per run (and the message it answered), and
//! in total per project.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language-model calls one run made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelUsage {
    /// `bedrock` or `openai`.
    pub provider: String,
    /// The model id as configured.
    pub model: String,
    /// Calls made, a repair call included.
    pub calls: u32,
    /// Input tokens the provider counted.
    pub input_tokens: u64,
    /// Output tokens the provider counted.
    pub output_tokens: u64,
    /// What they cost at the configured prices, in US dollars.
    pub cost_usd: f64,
    /// Time spent waiting for the provider, in milliseconds.
    pub latency_ms: u64,
    /// Why the rules answered instead, when they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// A project's language-model use over all its runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageTotal {
    /// Calls made.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Runs whose reading fell back to the rules.
    #[serde(default)]
    pub fallbacks: u64,
}

impl UsageTotal {
    /// Whether nothing was used.
    pub fn is_zero(&self) -> bool {
        self.calls == 0
    }

    /// Adds one run's use.
    pub fn add(&mut self, usage: &ModelUsage) {
        self.calls += u64::from(usage.calls);
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.cost_usd += usage.cost_usd;
        self.fallbacks += u64::from(usage.fallback.is_some());
    }
}
