//! The settings of sign-in with an OpenID Connect provider.

use super::{invalid, ConfigError};

/// Sign-in with an OpenID Connect provider: people sign in there, the UI gets an ID token by
/// the authorization code flow with PKCE, and every request carries it as a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `KILN_OIDC_ISSUER`: the provider's issuer URL, exactly as its tokens' `iss` claim has
    /// it (https, or http on a loopback host).
    pub issuer: String,
    /// `KILN_OIDC_AUDIENCE`: the UI's client id at the provider, which is the `aud` of the ID
    /// tokens it gets (or the `client_id` of an access token).
    pub audience: String,
    /// `KILN_OIDC_SCOPES`: what the UI asks for (default `openid email profile`).
    pub scopes: String,
    /// `KILN_OIDC_AUTHORIZATION_ENDPOINT`, `KILN_OIDC_TOKEN_ENDPOINT` and
    /// `KILN_OIDC_END_SESSION_ENDPOINT`: where the UI signs in, gets tokens and signs out;
    /// each one not set is read from the issuer's discovery document.
    pub authorization_endpoint: Option<String>,
    /// See `authorization_endpoint`.
    pub token_endpoint: Option<String>,
    /// See `authorization_endpoint`.
    pub end_session_endpoint: Option<String>,
}

/// Whether `url` is one a browser and a server may trust for sign-in: https, or plain http
/// only to this machine.
pub fn is_trusted_url(url: &str) -> bool {
    if url.contains(char::is_whitespace) {
        return false;
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty() && !rest.starts_with('/');
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn oidc_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, ConfigError> {
    let url = |var: &'static str| -> Result<Option<String>, ConfigError> {
        match get(var) {
            Some(v) if !is_trusted_url(&v) => Err(invalid(
                var,
                &v,
                "expected an https URL (plain http only to localhost)",
            )),
            v => Ok(v),
        }
    };
    let Some(issuer) = url("KILN_OIDC_ISSUER")? else {
        for var in [
            "KILN_OIDC_AUDIENCE",
            "KILN_OIDC_SCOPES",
            "KILN_OIDC_AUTHORIZATION_ENDPOINT",
            "KILN_OIDC_TOKEN_ENDPOINT",
            "KILN_OIDC_END_SESSION_ENDPOINT",
        ] {
            if let Some(v) = get(var) {
                return Err(invalid(var, &v, "set KILN_OIDC_ISSUER too, or neither"));
            }
        }
        return Ok(None);
    };
    let audience = get("KILN_OIDC_AUDIENCE").ok_or_else(|| {
        invalid(
            "KILN_OIDC_AUDIENCE",
            "",
            "required with KILN_OIDC_ISSUER: the UI's client id at the provider",
        )
    })?;
    let scopes = get("KILN_OIDC_SCOPES").unwrap_or_else(|| "openid email profile".to_owned());
    if !scopes.split_whitespace().any(|s| s == "openid") {
        return Err(invalid(
            "KILN_OIDC_SCOPES",
            &scopes,
            "expected space-separated scopes including `openid`",
        ));
    }
    Ok(Some(OidcSettings {
        issuer,
        audience,
        scopes,
        authorization_endpoint: url("KILN_OIDC_AUTHORIZATION_ENDPOINT")?,
        token_endpoint: url("KILN_OIDC_TOKEN_ENDPOINT")?,
        end_session_endpoint: url("KILN_OIDC_END_SESSION_ENDPOINT")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Config, super::ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars)
    }

    #[test]
    fn a_provider_needs_an_audience_and_https() {
        let ok = read(&[
            ("KILN_OIDC_ISSUER", "https://id.example.com/realms/kiln"),
            ("KILN_OIDC_AUDIENCE", "kiln-web"),
        ])
        .unwrap();
        let oidc = ok.oidc.unwrap();
        assert_eq!(oidc.scopes, "openid email profile");
        assert_eq!(oidc.token_endpoint, None);
        for (pairs, var) in [
            (
                vec![("KILN_OIDC_ISSUER", "https://id.example.com")],
                "KILN_OIDC_AUDIENCE",
            ),
            (
                vec![
                    ("KILN_OIDC_ISSUER", "http://id.example.com"),
                    ("KILN_OIDC_AUDIENCE", "a"),
                ],
                "KILN_OIDC_ISSUER",
            ),
            (
                vec![
                    ("KILN_OIDC_ISSUER", "https://id.example.com"),
                    ("KILN_OIDC_AUDIENCE", "a"),
                    ("KILN_OIDC_TOKEN_ENDPOINT", "http://10.0.0.1/token"),
                ],
                "KILN_OIDC_TOKEN_ENDPOINT",
            ),
            (
                vec![
                    ("KILN_OIDC_ISSUER", "https://id.example.com"),
                    ("KILN_OIDC_AUDIENCE", "a"),
                    ("KILN_OIDC_SCOPES", "email profile"),
                ],
                "KILN_OIDC_SCOPES",
            ),
            (vec![("KILN_OIDC_AUDIENCE", "a")], "KILN_OIDC_AUDIENCE"),
            (
                vec![
                    ("KILN_OIDC_ISSUER", "https://id.example.com"),
                    ("KILN_OIDC_AUDIENCE", "a"),
                    ("KILN_TOKEN", "0123456789"),
                ],
                "KILN_OIDC_ISSUER",
            ),
        ] {
            let e = read(&pairs).unwrap_err();
            assert_eq!(e.var, var, "{pairs:?}: {e}");
        }
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for url in [
            "https://id.example.com",
            "http://127.0.0.1:8081",
            "http://localhost:9000/realms/x",
            "http://[::1]:80",
        ] {
            assert!(super::is_trusted_url(url), "{url}");
        }
        for url in [
            "http://id.example.com",
            "http://127.0.0.1.example.com",
            "http://localhost.example.com/",
            "ftp://localhost",
            "https://",
            "https:// id.example.com",
            "javascript:alert(1)",
        ] {
            assert!(!super::is_trusted_url(url), "{url}");
        }
    }
}
