//! `KILN_LLM_RECORD_DIR`: every exchange with a real provider written down, secrets removed,
//! in the format the tests' fake provider serves (`tests/fixtures/llm/`): a header saying what
//! it is, the status line, the headers worth keeping, a blank line and the body; the request
//! beside it as JSON.

use std::path::PathBuf;

/// Writes exchanges under one directory.
#[derive(Debug, Clone)]
pub struct Recorder {
    dir: PathBuf,
}

/// Response headers a fixture keeps; credentials and cookies are never written.
const KEPT: &[&str] = &[
    "content-type",
    "retry-after",
    "x-amzn-errortype",
    "x-amzn-requestid",
    "x-request-id",
];

/// One exchange.
pub struct Exchange<'a> {
    /// `bedrock` or `openai`.
    pub provider: &'a str,
    /// The model asked.
    pub model: &'a str,
    /// The request body sent.
    pub request: &'a [u8],
    /// The answer's status.
    pub status: u16,
    /// The answer's headers.
    pub headers: Vec<(String, String)>,
    /// The answer's body.
    pub body: &'a [u8],
}

impl Recorder {
    /// Records under `dir` (made when first needed).
    pub fn new(dir: PathBuf) -> Self {
        Recorder { dir }
    }

    /// Writes one exchange, with every occurrence of each of `secrets` replaced. A failure to
    /// write is logged, never the caller's failure.
    pub fn record(&self, exchange: &Exchange<'_>, secrets: &[&str]) {
        let scrub = |bytes: &[u8]| {
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            for s in secrets.iter().filter(|s| s.len() >= 4) {
                text = text.replace(s, "<redacted>");
            }
            text
        };
        let stamp = time::OffsetDateTime::now_utc();
        let name = format!(
            "{}-{}-{}",
            stamp.unix_timestamp_nanos(),
            exchange.provider,
            exchange.status
        );
        let mut response = format!(
            "# Recorded from {} (model {}) at {stamp} with KILN_LLM_RECORD_DIR; secrets removed.\n\
             # A real exchange: review it before making it a fixture.\n\
             HTTP/1.1 {}\n",
            exchange.provider, exchange.model, exchange.status
        );
        for (k, v) in &exchange.headers {
            if KEPT.contains(&k.to_ascii_lowercase().as_str()) {
                response.push_str(&format!(
                    "{}: {}\n",
                    k.to_ascii_lowercase(),
                    scrub(v.as_bytes())
                ));
            }
        }
        response.push('\n');
        response.push_str(&scrub(exchange.body));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(self.dir.join(format!("{name}.http")), response))
            .and_then(|()| {
                std::fs::write(
                    self.dir.join(format!("{name}.request.json")),
                    scrub(exchange.request),
                )
            });
        if let Err(e) = written {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not record an exchange with the model");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_keep_the_fixture_format_and_lose_the_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path().join("rec"));
        recorder.record(
            &Exchange {
                provider: "openai",
                model: "m",
                request: br#"{"model":"m","key":"sk-secret-123"}"#,
                status: 401,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Set-Cookie".into(), "session=abc".into()),
                ],
                body: br#"{"error":{"message":"Incorrect API key provided: sk-secret-123"}}"#,
            },
            &["sk-secret-123"],
        );
        let files: Vec<_> = std::fs::read_dir(dir.path().join("rec"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2);
        let all: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(!all.contains("sk-secret-123"), "{all}");
        assert!(!all.to_lowercase().contains("cookie"), "{all}");
        let http = files
            .iter()
            .find(|f| f.extension().unwrap() == "http")
            .unwrap();
        let text = std::fs::read_to_string(http).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("# Recorded from openai"));
        assert!(
            text.contains("\nHTTP/1.1 401\ncontent-type: application/json\n\n{"),
            "{text}"
        );
    }
}
