//! Features named in a clause: authentication, the database, pagination, timestamps, soft
//! delete, CORS and rate limiting, turned on or (with "remove", "without", "no") off.

use super::{mentions, mentions_auth, SpecChange};
use crate::spec::{AppSpec, AuthFeature, DatabaseFeature};

/// A yes/no feature: the phrases that name it, where it lives in the spec, its label.
type Toggle = (
    &'static [&'static str],
    fn(&mut AppSpec) -> &mut bool,
    &'static str,
);

/// Feature toggles. Returns true when the clause was only about features.
pub(super) fn read_features(spec: &mut AppSpec, t: &[String], change: &mut SpecChange) -> bool {
    let words: Vec<String> = t
        .iter()
        .filter(|w| w.chars().all(char::is_alphanumeric))
        .cloned()
        .collect();
    let has = |phrases: &[&str]| phrases.iter().any(|p| mentions(&words, p));
    let plain: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| !(*w == "delete" || *w == "deletes") || *i == 0 || words[i - 1] != "soft")
        .map(|(_, w)| w.clone())
        .collect();
    let negated = [
        "remove",
        "drop",
        "without",
        "no longer",
        "disable",
        "delete",
        "dont",
        "turn off",
        "no",
    ]
    .iter()
    .any(|p| mentions(&plain, p));
    let mut touched = false;
    if mentions_auth(&words) {
        touched = true;
        let want = if negated {
            AuthFeature::None
        } else {
            AuthFeature::Jwt
        };
        set_auth(spec, want, change);
    }
    let db = if has(&["postgres", "postgresql", "psql"]) {
        Some(if negated {
            DatabaseFeature::Sqlite
        } else {
            DatabaseFeature::Postgres
        })
    } else if has(&[
        "database",
        "sqlite",
        "persist",
        "persistence",
        "persistent",
        "sql",
        "db",
        "sqlalchemy",
    ]) {
        Some(if negated {
            DatabaseFeature::None
        } else {
            DatabaseFeature::Sqlite
        })
    } else if has(&["in memory", "in-memory"]) {
        Some(DatabaseFeature::None)
    } else {
        None
    };
    if let Some(db) = db {
        touched = true;
        set_database(spec, db, change);
    }
    let toggles: [Toggle; 5] = [
        (
            &[
                "paginate",
                "pagination",
                "paginated",
                "page through",
                "pages of",
                "paging",
            ],
            |s| &mut s.features.pagination,
            "pagination",
        ),
        (
            &["timestamps", "timestamp", "created at", "track when"],
            |s| &mut s.features.timestamps,
            "created/updated timestamps",
        ),
        (
            &["soft delete", "soft-delete", "soft deletes", "soft deleted"],
            |s| &mut s.features.soft_delete,
            "soft delete",
        ),
        (
            &["cors", "cross-origin", "cross origin"],
            |s| &mut s.features.cors,
            "CORS",
        ),
        (
            &[
                "rate limit",
                "rate limiting",
                "rate-limit",
                "throttle",
                "throttling",
                "rate limited",
            ],
            |s| &mut s.features.rate_limit,
            "rate limiting",
        ),
    ];
    let joined = t.join(" ");
    for (phrases, flag, label) in toggles {
        if phrases
            .iter()
            .any(|p| mentions(&words, p) || joined.contains(p))
        {
            touched = true;
            let slot = flag(spec);
            if *slot == negated {
                *slot = !negated;
                if negated {
                    change.removed.push(label.into());
                } else {
                    change.added.push(label.into());
                }
            }
        }
    }
    // A clause that named a feature and no field or resource noun is about features only.
    touched
        && !words.iter().any(|w| {
            matches!(
                w.as_str(),
                "has" | "have" | "belong" | "belongs" | "field" | "rename"
            )
        })
}

/// Sets the authentication scheme, saying so when it changes (for every reader of a message).
pub(crate) fn set_auth(spec: &mut AppSpec, want: AuthFeature, change: &mut SpecChange) {
    if spec.features.auth != want {
        spec.features.auth = want;
        match want {
            AuthFeature::Jwt => change
                .added
                .push("JWT authentication (register, login, protected routes)".into()),
            AuthFeature::None => change.removed.push("authentication".into()),
        }
    }
}

/// Sets the storage, saying so when it changes (for every reader of a message).
pub(crate) fn set_database(spec: &mut AppSpec, db: DatabaseFeature, change: &mut SpecChange) {
    if spec.features.database != db {
        let label = match db {
            DatabaseFeature::None => "in-memory storage",
            DatabaseFeature::Sqlite => "SQLite database (SQLAlchemy)",
            DatabaseFeature::Postgres => "PostgreSQL database (SQLAlchemy)",
        };
        change.changed.push(format!("storage: {label}"));
        spec.features.database = db;
    }
}
