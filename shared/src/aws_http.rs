//! The AWS SDK's settings as every Kiln client loads them: the environment's region,
//! credentials and endpoints, and Kiln's own HTTP client for the SDK.
//!
//! The SDK's own client brings a second HTTP stack (hyper's client with HTTP/2, 496 KB of the
//! api function's package, and its own TLS setup). Kiln already links reqwest for its other
//! calls, so the SDK is given [`Connector`]: each request the SDK has signed goes out through
//! reqwest, HTTP/1.1 on the TLS settings of [`crate::https`], as it is (no redirect followed,
//! no proxy, no decompression), and its answer's body comes back as a stream the SDK reads
//! itself, so that its stalled-stream protection and its retries of a body cut short apply as
//! with its own client. A failure to connect or send is sorted as the SDK's retries expect: a
//! timeout, an I/O failure (a refused or broken connection, a body that could not be sent), or
//! a request that could not be made, which no retry fixes. A path with a `.` or `..` segment
//! is refused: reqwest's URL parser would drop it, sending a request other than the one
//! signed. Plain `http://` endpoints (a local stand-in) work as before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// A connection's connect and read timeouts, as the SDK gives them.
type Timeouts = (Option<Duration>, Option<Duration>);

/// The SDK's HTTP client: a [`Connector`] per pair of timeouts the SDK asks for, kept.
#[derive(Debug, Default)]
struct Client {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        connectors
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(timeouts)))
            .clone()
    }
}

/// Sends the SDK's requests with one reqwest client.
#[derive(Debug)]
pub struct Connector {
    client: Result<reqwest::Client, String>,
}

impl Connector {
    /// A connector with these connect and read timeouts (none where `None`).
    fn new((connect, read): Timeouts) -> Self {
        let mut builder = crate::https::client()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        Connector {
            client: builder.build().map_err(|e| e.to_string()),
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| ConnectorError::other(e.into(), None))?;
            send(&client, request).await
        })
    }
}

async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let (parts, body) = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?
        .into_parts();
    let body = match body.bytes() {
        Some(bytes) => bytes.to_vec(),
        None => body
            .collect()
            .await
            .map_err(ConnectorError::io)?
            .to_bytes()
            .to_vec(),
    };
    if has_dot_segment(parts.uri.path()) {
        return Err(ConnectorError::user(
            format!(
                "{}: a `.` or `..` segment would be taken out of the path after signing",
                parts.uri.path()
            )
            .into(),
        ));
    }
    let uri = parts.uri.to_string();
    let answer = client
        .request(parts.method, uri)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(failed)?;
    let response = http::Response::from(answer).map(SdkBody::from_body_1_x);
    HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
}

/// Whether `path` has a segment that is `.` or `..`, written out or percent-encoded.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let dots = segment.to_ascii_lowercase().replace("%2e", ".");
        dots == "." || dots == ".."
    })
}

/// A reqwest failure as the SDK's retries read it: a timeout; a request that could not be
/// made (no retry fixes it); or, for a connection refused or broken and a body not sent, an
/// I/O failure, which the SDK retries.
fn failed(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}

/// The SDK's HTTP client: [`Connector`]s on reqwest.
fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(Client::default())
}

/// `aws_config::defaults` (the latest behaviour version) with Kiln's HTTP client: callers add
/// what they change and `load()`.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// The environment's SDK settings, as `aws_config::load_defaults` reads them, on Kiln's HTTP
/// client.
pub async fn load_sdk() -> aws_config::SdkConfig {
    sdk_defaults().load().await
}

/// How a client that is made when first needed (Bedrock's, the model key's secret) gets the
/// SDK's settings: [`chain`] or [`given`]. A function and not a flag, so that a Lambda, which
/// passes [`given`], never links the chain.
pub type SdkLoader = std::sync::Arc<
    dyn Fn() -> futures_util::future::BoxFuture<'static, aws_config::SdkConfig> + Send + Sync,
>;

/// [`load_sdk`] when the settings are first needed: `kiln serve`, the tests.
pub fn chain() -> SdkLoader {
    std::sync::Arc::new(|| Box::pin(load_sdk()))
}

/// Settings made already: a Lambda's ([`lambda_sdk`]).
pub fn given(sdk: aws_config::SdkConfig) -> SdkLoader {
    std::sync::Arc::new(move || {
        let sdk = sdk.clone();
        Box::pin(async move { sdk })
    })
}

/// A Lambda's SDK settings, from the variables Lambda sets in its environment: `AWS_REGION`,
/// and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`; `AWS_ENDPOINT_URL` when set (a stand-in's). The SDK's standard retries
/// and the latest behaviour version, on Kiln's HTTP client, as [`load_sdk`] gives them.
///
/// Not `aws_config`'s chain: inside Lambda the first provider of that chain, the environment,
/// always answers, and the rest of it (profiles, SSO, STS, the instance metadata service) is
/// code each package would carry for nothing. A variable missing is a start error.
pub fn lambda_sdk() -> Result<aws_config::SdkConfig, String> {
    lambda_sdk_from(|name| std::env::var(name).ok())
}

/// [`lambda_sdk`], reading the variables with `var`.
pub fn lambda_sdk_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let (region, key, secret) = (
        set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION")),
        set("AWS_ACCESS_KEY_ID"),
        set("AWS_SECRET_ACCESS_KEY"),
    );
    let missing: Vec<&str> = [
        ("AWS_REGION", region.is_none()),
        ("AWS_ACCESS_KEY_ID", key.is_none()),
        ("AWS_SECRET_ACCESS_KEY", secret.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, gone)| gone.then_some(name))
    .collect();
    let (Some(region), Some(key), Some(secret)) = (region, key, secret) else {
        return Err(missing.join(", "));
    };
    let credentials = aws_credential_types::Credentials::new(
        key,
        secret,
        set("AWS_SESSION_TOKEN"),
        None,
        "the Lambda's environment",
    );
    let mut sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .retry_config(aws_config::retry::RetryConfig::standard())
        .http_client(http_client());
    if let Some(url) = set("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(url);
    }
    Ok(sdk.build())
}
