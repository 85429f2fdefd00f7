//! When to ask an OpenAI-compatible server again: on a connection error, 429 and 5xx, after a
//! jittered, growing wait (or the `Retry-After` it asked for), never on 400, 401, 403 or 404,
//! and never past the reading's deadline.

use std::time::Duration;

/// Most attempts at one call.
pub const MAX_ATTEMPTS: u32 = 4;
/// The first wait; each retry doubles it, up to [`MAX_WAIT`].
pub const BASE_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// Whether a status is worth another attempt.
pub fn retryable(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

/// The wait before attempt `attempt` (1 is the first retry): what the server asked for in
/// `Retry-After` (seconds), else full jitter over an exponential ceiling.
pub fn wait(attempt: u32, retry_after: Option<&str>) -> Duration {
    if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<f64>().ok()) {
        if secs.is_finite() && secs >= 0.0 {
            return Duration::from_secs_f64(secs).min(MAX_WAIT);
        }
    }
    let ceiling = BASE_WAIT
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(MAX_WAIT);
    ceiling.mul_f64(jitter())
}

/// A number in [0.5, 1): random enough to spread clients apart, never a zero wait.
fn jitter() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u16::from_le_bytes([bytes[0], bytes[1]]);
    0.5 + f64::from(n) / f64::from(u16::MAX) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_timeouts_and_server_errors_are_retried() {
        for s in [429, 408, 500, 502, 503, 504] {
            assert!(retryable(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 422] {
            assert!(!retryable(s), "{s}");
        }
    }

    #[test]
    fn waits_honour_retry_after_and_grow_with_jitter_within_bounds() {
        assert_eq!(wait(1, Some("2")), Duration::from_secs(2));
        assert_eq!(wait(1, Some("0")), Duration::ZERO);
        assert_eq!(wait(1, Some("9999")), MAX_WAIT);
        for attempt in 1..=3 {
            let ceiling = BASE_WAIT * (1 << (attempt - 1));
            let w = wait(attempt, Some("soon"));
            assert!(w >= ceiling / 2 && w <= ceiling, "{attempt}: {w:?}");
        }
        assert!(wait(30, None) <= MAX_WAIT);
    }
}
