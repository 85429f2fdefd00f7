//! The AWS SDK's settings as every Kiln client loads them: the environment's region,
//! credentials and endpoints, and one HTTPS client on rustls with ring.
//!
//! The SDK's own default client uses aws-lc-rs for its TLS; Kiln already links ring (for the
//! signatures of sign-in tokens, and under reqwest), so the SDK is given a client on ring and
//! aws-lc-rs is not linked at all (the api function's package: 11.7 → 10.8 MB, 5.48 → 5.08 MB
//! zipped). The trust
//! store stays the system's roots, as the SDK's default has it; plain `http://` endpoints (a
//! local stand-in) work as before.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The SDK's HTTPS client: hyper on rustls with ring, the system's root certificates.
fn https_client() -> aws_sdk_bedrockruntime::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// `aws_config::defaults` (the latest behaviour version) with [`https_client`]: callers add
/// what they change and `load()`.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

/// The environment's SDK settings, as `aws_config::load_defaults` reads them, on
/// [`https_client`].
pub async fn load_sdk() -> aws_config::SdkConfig {
    sdk_defaults().load().await
}
