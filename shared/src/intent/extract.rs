//! What a deploy or rollback message names: the environment ("staging", "prod") and the
//! version number ("version 2", "v3").

use super::sentences::normalize;
use crate::model::Environment;

/// The environment a deploy message names, if any.
pub fn environment_in(text: &str) -> Option<Environment> {
    let words = normalize(text);
    words.iter().find_map(|w| match w.as_str() {
        "staging" | "stage" | "preprod" | "pre-production" | "uat" => Some(Environment::Staging),
        "prod" | "production" | "live" => Some(Environment::Prod),
        "dev" | "development" => Some(Environment::Dev),
        _ => None,
    })
}

/// The version number a message names ("roll back to version 2", "v3"), if any.
pub fn version_in(text: &str) -> Option<u32> {
    let words = normalize(text);
    for (i, w) in words.iter().enumerate() {
        if let Some(n) = w.strip_prefix('v').and_then(|n| n.parse().ok()) {
            return Some(n);
        }
        if matches!(w.as_str(), "version" | "build" | "release" | "#") {
            if let Some(n) = words
                .get(i + 1)
                .and_then(|n| n.trim_start_matches('#').parse().ok())
            {
                return Some(n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments() {
        assert_eq!(
            environment_in("push to staging"),
            Some(Environment::Staging)
        );
        assert_eq!(
            environment_in("deploy it to production"),
            Some(Environment::Prod)
        );
        assert_eq!(environment_in("Deploy it"), None);
        assert_eq!(environment_in("deploy to dev"), Some(Environment::Dev));
    }

    #[test]
    fn versions() {
        assert_eq!(version_in("roll back to version 2"), Some(2));
        assert_eq!(version_in("go back to v13"), Some(13));
        assert_eq!(version_in("rollback"), None);
    }
}
