//! What a Lambda logs: a level per target, without `EnvFilter`'s span and field filters,
//! whose regular expressions would bring regex-automata's DFAs into each package.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter of a Lambda's logs, from `var`: `RUST_LOG` as levels per target (`info`,
/// `kiln=debug,warn`), else the level the function's logging configuration sets
/// (`AWS_LAMBDA_LOG_LEVEL`: `TRACE` … `FATAL`), else `info`. A value it cannot read is
/// named in the second part, and `info` is used.
pub fn lambda_log_filter(var: impl Fn(&str) -> Option<String>) -> (Targets, Option<String>) {
    let info = || Targets::new().with_default(LevelFilter::INFO);
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(directives) = set("RUST_LOG") {
        // `Targets` would read ` warn` (after a comma and a space) as a target, not a level.
        let tidy: Vec<&str> = directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        return match Targets::from_str(&tidy.join(",")) {
            Ok(targets) => (targets, None),
            Err(e) => (info(), Some(format!("RUST_LOG={directives}: {e}"))),
        };
    }
    let Some(level) = set("AWS_LAMBDA_LOG_LEVEL") else {
        return (info(), None);
    };
    let filter = match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => return (info(), Some(format!("AWS_LAMBDA_LOG_LEVEL={level}"))),
    };
    (Targets::new().with_default(filter), None)
}

/// Sets up a Lambda's logs: JSON lines without a time (CloudWatch stamps each), filtered by
/// [`lambda_log_filter`] of the process's environment; a value it could not read is said.
pub fn init_lambda_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (filter, unread) = lambda_log_filter(|name| std::env::var(name).ok());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().json().without_time())
        .with(filter)
        .init();
    if let Some(unread) = unread {
        tracing::warn!("logging at info: could not read {unread}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn filter(vars: &[(&str, &str)]) -> (Targets, Option<String>) {
        let vars: std::collections::HashMap<_, _> = vars.iter().copied().collect();
        lambda_log_filter(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn levels_come_from_rust_log_then_from_lambda_then_info() {
        let (f, bad) = filter(&[]);
        assert!(bad.is_none());
        assert!(f.would_enable("kiln::agents", &Level::INFO));
        assert!(!f.would_enable("kiln::agents", &Level::DEBUG));

        let (f, bad) = filter(&[
            ("RUST_LOG", "kiln=debug,warn"),
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
        ]);
        assert!(bad.is_none());
        assert!(f.would_enable("kiln::store", &Level::DEBUG));
        assert!(!f.would_enable("hyper_util::client", &Level::INFO));
        assert!(f.would_enable("hyper_util::client", &Level::WARN));

        let (f, bad) = filter(&[("RUST_LOG", " kiln=debug, warn ,")]);
        assert!(bad.is_none());
        assert!(f.would_enable("kiln::store", &Level::DEBUG));
        assert!(!f.would_enable("hyper_util::client", &Level::INFO));
        assert!(f.would_enable("hyper_util::client", &Level::WARN));

        let (f, _) = filter(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert!(!f.would_enable("kiln", &Level::INFO));
        assert!(f.would_enable("kiln", &Level::WARN));
        let (f, _) = filter(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]);
        assert!(!f.would_enable("kiln", &Level::WARN));
        assert!(f.would_enable("kiln", &Level::ERROR));
        let (f, _) = filter(&[("AWS_LAMBDA_LOG_LEVEL", "debug")]);
        assert!(f.would_enable("kiln", &Level::DEBUG));

        for vars in [
            [("RUST_LOG", "kiln[{run_id=1}]=debug")],
            [("AWS_LAMBDA_LOG_LEVEL", "LOUD")],
        ] {
            let (f, bad) = filter(&vars);
            assert!(bad.unwrap().contains(vars[0].0), "{vars:?}");
            assert!(f.would_enable("kiln", &Level::INFO));
            assert!(!f.would_enable("kiln", &Level::DEBUG));
        }
    }
}
