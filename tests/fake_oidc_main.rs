//! `fake-oidc <client id> <ID token lifetime in seconds>`: runs the tests' OpenID Connect
//! provider ([`kiln_integration_tests::fake_oidc`]) until killed, after printing its issuer
//! URL on the first line. The browser tests start it; `GET {issuer}/_counts` says how often
//! each endpoint was called.

fn main() {
    let mut args = std::env::args().skip(1);
    let client_id = args
        .next()
        .expect("usage: fake-oidc <client id> <ttl secs>");
    let ttl: i64 = args
        .next()
        .and_then(|t| t.parse().ok())
        .expect("usage: fake-oidc <client id> <ttl secs>");
    let provider = kiln_integration_tests::fake_oidc::FakeOidc::start(&client_id, ttl);
    println!("{}", provider.issuer());
    loop {
        std::thread::park();
    }
}
