//! The AWS SDK's settings as every Kiln client loads them: the environment's region,
//! credentials and endpoints, and Kiln's own HTTP client for the SDK.
//!
//! The SDK's own client brings a second HTTP stack (hyper's client with HTTP/2, 496 KB of the
//! api function's package, and its own TLS setup). Kiln already links reqwest for its other
//! calls, so the SDK is given [`Connector`]: each request the SDK has signed goes out through
//! reqwest, HTTP/1.1 on the TLS settings of [`crate::https`], as it is (no redirect followed,
//! no proxy, no decompression), and its answer comes back whole. A failure is sorted as the
//! SDK's retries expect: a timeout, an I/O failure (a refused or broken connection, a body
//! that could not be sent or read), or another error that no retry fixes. Plain `http://`
//! endpoints (a local stand-in) work as before.

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
    let uri = parts.uri.to_string();
    let answer = client
        .request(parts.method, uri)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(failed)?;
    let mut response = http::Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        *headers = answer.headers().clone();
    }
    let bytes = answer.bytes().await.map_err(failed)?;
    let response = response
        .body(SdkBody::from(bytes))
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
}

/// A reqwest failure as the SDK's retries read it.
fn failed(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
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
