//! One vocabulary of failure for every port: what a failure means for whoever must decide what
//! to do next (retry, answer the user, stop). Each port's error says its kind; the pipeline
//! maps kinds to ASL error names once (`agents`), and the API to HTTP statuses once (`api`).

/// What a failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing does not exist (or is not the caller's).
    NotFound,
    /// A write lost a race; doing it again on fresh data may succeed.
    Conflict,
    /// The request itself is wrong; repeating it gives the same answer.
    Invalid,
    /// The backend is busy or unreachable now; a retry may succeed.
    Transient,
    /// Stored data is not what it must be; reading it again reads the same bytes.
    Corrupt,
    /// The backend failed in a way a retry does not fix (permissions, a missing table, a full
    /// disk, a defect).
    Permanent,
}

impl ErrorKind {
    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Conflict)
    }
}

/// A failure's own words and, when there is one, the error that caused it, kept as its
/// `source()` so that logs show the whole chain.
#[derive(Debug)]
pub struct Cause {
    what: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Cause {
    /// A cause with nothing underneath.
    pub fn new(what: impl Into<String>) -> Self {
        Cause {
            what: what.into(),
            source: None,
        }
    }

    /// `what` went wrong because of `source`.
    pub fn with(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Cause {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The cause's words, then each error of the chain under it: "DynamoDB: service error:
/// ThrottlingException: Rate exceeded".
impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
