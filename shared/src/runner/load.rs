//! Calls to a live deployment: [`AppUrl`], the one base URL a check may call (nothing else is
//! ever requested, and redirects are not followed), and [`load_test`], a bounded number of
//! `GET`s at a fixed number of connections within a time bound, with the latencies measured.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{LatencyBucket, LoadReport};

use super::RunnerError;

/// The base URL of one deployment (`http(s)://host[:port]/[prefix/]`): every request a check
/// makes is this URL with a path from the app's own routes appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUrl {
    base: reqwest::Url,
}

impl AppUrl {
    /// The deployment's URL as recorded; refused unless it is plain http(s) with no user,
    /// query or fragment.
    pub fn new(url: &str) -> Result<AppUrl, RunnerError> {
        let refuse = |why: &str| RunnerError::Refused(format!("will not call {url:?}: {why}"));
        let mut base = reqwest::Url::parse(url).map_err(|_| refuse("not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(refuse("only http(s) URLs of a host are called"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(refuse("it carries credentials"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(refuse("it has a query or fragment"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(AppUrl { base })
    }

    /// The URL as a string, ending in `/`.
    pub fn as_str(&self) -> &str {
        self.base.as_str()
    }

    /// `path` (`/tasks/3`, `/tasks?limit=5`) under the base URL. Refused when it would leave
    /// it: only letters, digits, `_-./?=&` are taken, no `..`, and the result must start with
    /// the base.
    pub fn join(&self, path: &str) -> Result<reqwest::Url, RunnerError> {
        let refuse = || RunnerError::Refused(format!("will not call the path {path:?}"));
        let relative = path.strip_prefix('/').ok_or_else(refuse)?;
        let safe = relative
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./?=&".contains(c));
        if !safe || relative.contains("..") || relative.starts_with('/') {
            return Err(refuse());
        }
        let url = self.base.join(relative).map_err(|_| refuse())?;
        if !url.as_str().starts_with(self.base.as_str()) {
            return Err(refuse());
        }
        Ok(url)
    }

    /// An HTTP client for this app: no redirects (a redirect could lead elsewhere), a timeout
    /// per request, up to `connections` kept open. A client without that policy is never
    /// used instead: one that cannot be made is an error.
    pub fn client(
        &self,
        timeout: Duration,
        connections: usize,
    ) -> Result<reqwest::Client, RunnerError> {
        crate::https::client()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .pool_max_idle_per_host(connections)
            .build()
            .map_err(|e| RunnerError::Process(format!("could not make an HTTP client: {e}")))
    }
}

/// How much load to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSettings {
    /// Requests to send in all.
    pub requests: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Longest the test may run; no request starts after it.
    pub time_limit: Duration,
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            requests: 2_000,
            concurrency: 16,
            time_limit: Duration::from_secs(15),
        }
    }
}

/// The upper bounds of the histogram's buckets, in milliseconds (the last bucket is open).
pub const BUCKETS_MS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0,
];

/// Sends `settings.requests` `GET`s to `paths` in turn (each a path of the app, with the
/// headers given), `settings.concurrency` at a time, stopping early at the time limit. A
/// request fails when it gets no answer or a status of 400 or more.
pub async fn load_test(
    app: &AppUrl,
    paths: &[String],
    headers: &[(String, String)],
    settings: LoadSettings,
) -> Result<LoadReport, RunnerError> {
    let urls: Vec<reqwest::Url> = paths
        .iter()
        .map(|p| app.join(p))
        .collect::<Result<_, _>>()?;
    if urls.is_empty() || settings.requests == 0 || settings.concurrency == 0 {
        return Ok(LoadReport {
            concurrency: settings.concurrency,
            histogram: histogram(&[]),
            ..LoadReport::default()
        });
    }
    let concurrency = settings.concurrency.min(settings.requests);
    let client = app.client(settings.time_limit, concurrency as usize)?;
    let mut header_map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) else {
            return Err(RunnerError::Refused(format!("an unusable header {name:?}")));
        };
        header_map.insert(name, value);
    }
    let urls = Arc::new(urls);
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let deadline = started + settings.time_limit;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, urls, next, headers) = (
            client.clone(),
            Arc::clone(&urls),
            Arc::clone(&next),
            header_map.clone(),
        );
        workers.spawn(async move {
            let mut seen: Vec<(Duration, bool)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let now = Instant::now();
                if i >= settings.requests || now >= deadline {
                    return seen;
                }
                let url = urls[i as usize % urls.len()].clone();
                // Marked as Kiln's in the app's log (its request id).
                let sent = client
                    .get(url)
                    .headers(headers.clone())
                    .header("x-request-id", format!("kiln-load-{i}"))
                    .timeout(deadline - now)
                    .send();
                let ok = match sent.await {
                    // The body is read, so the time is the whole answer's.
                    Ok(r) => r.status().as_u16() < 400 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                seen.push((now.elapsed(), ok));
            }
        });
    }
    let mut samples = Vec::with_capacity(settings.requests as usize);
    while let Some(done) = workers.join_next().await {
        samples.extend(
            done.map_err(|e| RunnerError::Process(format!("a load test worker failed: {e}")))?,
        );
    }
    Ok(report(&samples, concurrency, started.elapsed()))
}

/// The report of what `samples` (each request's latency and whether it succeeded) measured.
pub fn report(samples: &[(Duration, bool)], concurrency: u32, elapsed: Duration) -> LoadReport {
    let mut millis: Vec<f64> = samples
        .iter()
        .map(|(d, _)| d.as_secs_f64() * 1_000.0)
        .collect();
    millis.sort_by(f64::total_cmp);
    let requests = samples.len() as u32;
    let errors = samples.iter().filter(|(_, ok)| !ok).count() as u32;
    let seconds = elapsed.as_secs_f64();
    LoadReport {
        requests,
        concurrency,
        duration_ms: elapsed.as_millis() as u64,
        rps: if seconds > 0.0 {
            round(f64::from(requests) / seconds)
        } else {
            0.0
        },
        p50_ms: round(percentile(&millis, 50.0)),
        p95_ms: round(percentile(&millis, 95.0)),
        p99_ms: round(percentile(&millis, 99.0)),
        errors,
        error_rate: if requests == 0 {
            0.0
        } else {
            f64::from(errors) / f64::from(requests)
        },
        histogram: histogram(&millis),
    }
}

/// The nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn histogram(millis: &[f64]) -> Vec<LatencyBucket> {
    let mut buckets: Vec<LatencyBucket> = BUCKETS_MS
        .iter()
        .map(|&le| LatencyBucket {
            le_ms: Some(le),
            count: 0,
        })
        .chain(std::iter::once(LatencyBucket {
            le_ms: None,
            count: 0,
        }))
        .collect();
    for &m in millis {
        let i = BUCKETS_MS
            .iter()
            .position(|&le| m <= le)
            .unwrap_or(BUCKETS_MS.len());
        buckets[i].count += 1;
    }
    buckets
}

/// Two decimals are enough for milliseconds and rates people read.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_the_deployment_are_called() {
        let app = AppUrl::new("http://127.0.0.1:8001/kiln-abc-dev").unwrap();
        assert_eq!(app.as_str(), "http://127.0.0.1:8001/kiln-abc-dev/");
        assert_eq!(
            app.join("/tasks/3?x=1").unwrap().as_str(),
            "http://127.0.0.1:8001/kiln-abc-dev/tasks/3?x=1"
        );
        for bad in [
            "tasks",
            "//evil.example.com/x",
            "/../other",
            "/a/../../b",
            "/tasks#f",
            "/x@evil.example.com",
            "/%2e%2e/x",
            "/tasks\\..\\x",
        ] {
            assert!(app.join(bad).is_err(), "{bad}");
        }
        for bad in [
            "ftp://127.0.0.1/",
            "http://user:pw@127.0.0.1/",
            "http://127.0.0.1/?next=x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(AppUrl::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 95.0), 95.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn the_report_counts_what_the_samples_hold() {
        let samples: Vec<(Duration, bool)> = (1..=10)
            .map(|i| (Duration::from_millis(i * 3), i != 4))
            .collect();
        let r = report(&samples, 2, Duration::from_secs(2));
        assert_eq!((r.requests, r.errors, r.concurrency), (10, 1, 2));
        assert_eq!(r.error_rate, 0.1);
        assert_eq!(r.rps, 5.0);
        assert_eq!((r.p50_ms, r.p95_ms, r.p99_ms), (15.0, 30.0, 30.0));
        let counts: Vec<u32> = r.histogram.iter().map(|b| b.count).collect();
        // 3 ms in ≤5; 6, 9 in ≤10; 12..18 in ≤20; 21..30 in ≤50.
        assert_eq!(counts, [0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// A server on loopback that fails every 10th request it gets with 500.
    /// A server that answers every 10th request with a 500, each after 5 ms, counting the
    /// requests and the most it had under way at once.
    async fn flaky_server() -> (String, Arc<AtomicU32>, Arc<AtomicU32>) {
        use axum::http::StatusCode;
        let hits = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let open = Arc::new(AtomicU32::new(0));
        let (counter, peak) = (Arc::clone(&hits), Arc::clone(&most));
        let app = axum::Router::new().fallback(move || {
            let (counter, peak, open) =
                (Arc::clone(&counter), Arc::clone(&peak), Arc::clone(&open));
            async move {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                open.fetch_sub(1, Ordering::SeqCst);
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if n % 10 == 0 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "broken")
                } else {
                    (StatusCode::OK, "{\"status\":\"ok\"}")
                }
            }
        });
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/app/", socket.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(socket, app).await.unwrap() });
        (url, hits, most)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_load_test_sends_what_it_was_asked_and_counts_the_errors() {
        let (url, hits, most) = flaky_server().await;
        let app = AppUrl::new(&url).unwrap();
        let settings = LoadSettings {
            requests: 300,
            concurrency: 8,
            time_limit: Duration::from_secs(120),
        };
        let paths = ["/health".to_owned(), "/tasks".to_owned()];
        let r = load_test(&app, &paths, &[], settings).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 300, "every request reached it");
        assert_eq!(r.requests, 300);
        assert_eq!(r.concurrency, 8);
        // The connections were really used at once, and never more than asked.
        let most = most.load(Ordering::SeqCst);
        assert!((4..=8).contains(&most), "{most} requests under way at once");
        assert_eq!(r.errors, 30, "every 10th answered 500");
        assert_eq!(r.error_rate, 0.1);
        assert_eq!(r.histogram.iter().map(|b| b.count).sum::<u32>(), 300);
        assert!(r.rps > 0.0 && r.duration_ms > 0, "{r:?}");
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_all_errors() {
        // A port that was free a moment ago: nothing listens there.
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", socket.local_addr().unwrap());
        drop(socket);
        let app = AppUrl::new(&url).unwrap();
        let settings = LoadSettings {
            requests: 20,
            concurrency: 4,
            time_limit: Duration::from_secs(60),
        };
        let r = load_test(&app, &["/health".to_owned()], &[], settings)
            .await
            .unwrap();
        assert_eq!((r.requests, r.errors), (20, 20));
        assert_eq!(r.error_rate, 1.0);
    }
}
