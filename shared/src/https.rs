//! The one TLS setup of every HTTPS call Kiln makes: the AWS SDK's (`aws_http`), a model
//! provider's, an OpenID provider's, a deployed app's smoke and load tests. rustls on ring
//! (the one crypto library Kiln links), HTTP/1.1, trusting the system's root certificates
//! (`SSL_CERT_FILE` and `SSL_CERT_DIR` where they are set). The roots are read once per
//! process, when the first client is made, and shared by every client after it.

use std::sync::{Arc, LazyLock};

/// The rustls settings every client is given.
static TLS: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = ?found.errors, "some of the system's root certificates could not be read");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (trusted, _unparsable) = roots.add_parsable_certificates(found.certs);
    if trusted == 0 {
        tracing::warn!("no root certificate found on this system: HTTPS calls will fail");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring offers TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
});

/// Reads the root certificates now rather than at the first client. The Lambdas call it at
/// init: each of their invocations calls AWS over HTTPS, so the roots would otherwise be read
/// inside the first request's time.
pub fn read_roots() {
    LazyLock::force(&TLS);
}

/// A client builder on the shared TLS settings; callers add their timeouts and `build()`.
pub fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(TLS.clone())
}
