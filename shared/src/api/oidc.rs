//! Sign-in with an OpenID Connect provider: where the UI runs the authorization code flow
//! with PKCE ([`SignIn`], answered by `GET /api/v2/auth/config`), and the check of each
//! request's token against the provider's published keys ([`OidcVerifier`]).
//!
//! The keys come from the issuer's discovery document's `jwks_uri`. They are kept for as long
//! as the answer's `Cache-Control: max-age` says (an hour when it says nothing, between a
//! minute and a day), and read again early when a token names a key not among them: a
//! provider rotating its keys publishes the new one before signing with it. A token naming an
//! unknown key makes at most one such read every [`UNKNOWN_KEY_REFETCH`], so made-up key ids
//! cannot turn requests into calls to the provider.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use utoipa::ToSchema;

use crate::config::{is_trusted_url, OidcSettings};
use crate::model::Owner;

/// Seconds a token's times may be off because clocks differ.
const LEEWAY_SECS: i64 = 60;
/// Least time between two reads of the keys caused by tokens naming a key not among them.
pub const UNKNOWN_KEY_REFETCH: Duration = Duration::from_secs(10);
/// How long keys are kept when the provider does not say.
const DEFAULT_KEYS_FOR: Duration = Duration::from_secs(3600);
/// A wait for the provider longer than this is a failed read.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the UI signs in with the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignIn {
    /// The provider's issuer URL.
    pub issuer: String,
    /// The UI's client id at the provider.
    pub client_id: String,
    /// The scopes to ask for, space-separated.
    pub scopes: String,
    /// Where the browser goes to sign in (`response_type=code`, PKCE with `S256`).
    pub authorization_endpoint: String,
    /// Where the UI exchanges the code, and later a refresh token, for tokens.
    pub token_endpoint: String,
    /// Where the browser goes to sign out at the provider too, if it has such a place.
    pub end_session_endpoint: Option<String>,
}

impl SignIn {
    /// The sign-in of settings that name every endpoint (what a server behind an authorizer
    /// that already checks the tokens uses: it never reads the provider itself).
    pub fn from_settings(settings: &OidcSettings) -> Result<Self, OidcError> {
        let need = |v: &Option<String>, var: &'static str| v.clone().ok_or(OidcError::Missing(var));
        Ok(SignIn {
            issuer: settings.issuer.clone(),
            client_id: settings.audience.clone(),
            scopes: settings.scopes.clone(),
            authorization_endpoint: need(
                &settings.authorization_endpoint,
                "KILN_OIDC_AUTHORIZATION_ENDPOINT",
            )?,
            token_endpoint: need(&settings.token_endpoint, "KILN_OIDC_TOKEN_ENDPOINT")?,
            end_session_endpoint: settings.end_session_endpoint.clone(),
        })
    }
}

/// Why the provider could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be read.
    #[error("could not read {url}: {reason}")]
    Unreachable {
        /// What was read.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The provider's discovery document is not what OpenID Connect Discovery describes.
    #[error("the discovery document at {url} {problem}")]
    Discovery {
        /// Where it was read.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A setting without which the UI cannot sign in.
    #[error("{0} is not set")]
    Missing(&'static str),
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// It was good once; signing in again (or refreshing) gives a new one.
    Expired,
    /// It is not a token of this provider for this client, or it was tampered with.
    Invalid(&'static str),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Expired => f.write_str("the token has expired"),
            Rejected::Invalid(why) => f.write_str(why),
        }
    }
}

#[derive(Default)]
struct Keys {
    /// RSA public keys by key id: (modulus, exponent), big-endian.
    by_id: HashMap<String, (Vec<u8>, Vec<u8>)>,
    read_at: Option<Instant>,
    keep_for: Duration,
    last_unknown_read: Option<Instant>,
    last_failed_read: Option<Instant>,
}

/// Checks tokens against the provider's keys, issuer and this server's audience.
pub struct OidcVerifier {
    sign_in: SignIn,
    jwks_uri: String,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    reading: Mutex<()>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
}

impl OidcVerifier {
    /// Reads the issuer's discovery document and its keys; fails if either cannot be read or
    /// is not what OpenID Connect describes, so that a server never starts unable to check.
    pub async fn discover(settings: &OidcSettings) -> Result<Self, OidcError> {
        let http = crate::https::client()
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| OidcError::Unreachable {
                url: settings.issuer.clone(),
                reason: e.to_string(),
            })?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let (doc, _) = get_json(&http, &url).await?;
        let doc: Discovery = serde_json::from_value(doc).map_err(|e| OidcError::Discovery {
            url: url.clone(),
            problem: format!("is not a discovery document: {e}"),
        })?;
        let problem = |problem: String| OidcError::Discovery {
            url: url.clone(),
            problem,
        };
        if doc.issuer != settings.issuer {
            return Err(problem(format!(
                "names the issuer {:?}, not KILN_OIDC_ISSUER {:?}",
                doc.issuer, settings.issuer
            )));
        }
        let trusted = |name: &str, v: Option<String>| match v {
            Some(v) if !is_trusted_url(&v) => {
                Err(problem(format!("gives a {name} that is not https: {v:?}")))
            }
            v => Ok(v),
        };
        let jwks_uri = trusted("jwks_uri", Some(doc.jwks_uri))?.unwrap_or_default();
        let endpoint =
            |name: &str, set: &Option<String>, found: Option<String>, var: &str| match set
                .clone()
                .or(trusted(name, found)?)
            {
                Some(v) => Ok(v),
                None => Err(problem(format!("has no {name}: set {var}"))),
            };
        let sign_in = SignIn {
            issuer: settings.issuer.clone(),
            client_id: settings.audience.clone(),
            scopes: settings.scopes.clone(),
            authorization_endpoint: endpoint(
                "authorization_endpoint",
                &settings.authorization_endpoint,
                doc.authorization_endpoint,
                "KILN_OIDC_AUTHORIZATION_ENDPOINT",
            )?,
            token_endpoint: endpoint(
                "token_endpoint",
                &settings.token_endpoint,
                doc.token_endpoint,
                "KILN_OIDC_TOKEN_ENDPOINT",
            )?,
            end_session_endpoint: match &settings.end_session_endpoint {
                Some(v) => Some(v.clone()),
                None => trusted("end_session_endpoint", doc.end_session_endpoint)?,
            },
        };
        let verifier = OidcVerifier {
            sign_in,
            jwks_uri,
            http,
            keys: RwLock::new(Keys::default()),
            reading: Mutex::new(()),
        };
        verifier.read_keys().await?;
        Ok(verifier)
    }

    /// Where and how the UI signs in.
    pub fn sign_in(&self) -> &SignIn {
        &self.sign_in
    }

    /// The owner a token acts for (its `sub`), if the provider signed it for this server's
    /// audience and it is within its lifetime.
    pub async fn verify(&self, token: &str) -> Result<Owner, Rejected> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejected::Invalid("the token is not a JSON Web Token"));
        };
        let header: Value = decode_json(header)?;
        // Only what the provider signs with: never `none`, never a shared-secret algorithm
        // with the public key as the secret.
        if header["alg"] != "RS256" {
            return Err(Rejected::Invalid("the token is not signed with RS256"));
        }
        let kid = header["kid"].as_str();
        let key = self.key(kid).await.ok_or(Rejected::Invalid(
            "the token is signed with a key the provider does not publish",
        ))?;
        let signature = b64(signature)?;
        let signed = &token[..header_len(token)];
        ring::signature::RsaPublicKeyComponents {
            n: &key.0,
            e: &key.1,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .map_err(|_| Rejected::Invalid("the token's signature does not match"))?;
        let claims: Value = decode_json(payload)?;
        self.check_claims(&claims)
    }

    fn check_claims(&self, claims: &Value) -> Result<Owner, Rejected> {
        if claims["iss"] != self.sign_in.issuer.as_str() {
            return Err(Rejected::Invalid("the token is from another issuer"));
        }
        let audience = self.sign_in.client_id.as_str();
        let for_us = match &claims["aud"] {
            Value::String(a) => a == audience,
            Value::Array(all) => all.iter().any(|a| a == audience),
            _ => claims["client_id"] == audience,
        };
        if !for_us {
            return Err(Rejected::Invalid("the token is for another client"));
        }
        if let Some(used) = claims.get("token_use") {
            if used != "id" && used != "access" {
                return Err(Rejected::Invalid("the token is not an ID or access token"));
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let Some(exp) = claims["exp"].as_i64() else {
            return Err(Rejected::Invalid("the token has no expiry"));
        };
        if exp + LEEWAY_SECS <= now {
            return Err(Rejected::Expired);
        }
        if claims["nbf"]
            .as_i64()
            .is_some_and(|nbf| nbf - LEEWAY_SECS > now)
        {
            return Err(Rejected::Invalid("the token is not valid yet"));
        }
        match claims["sub"].as_str() {
            Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(Owner(sub.to_owned())),
            _ => Err(Rejected::Invalid("the token names no subject")),
        }
    }

    /// The key a token names, reading the keys again when they are due or the id is new.
    /// One request reads at a time; those that waited for it look again before reading, so
    /// requests that meet a rotation together make one read, and all find the new key.
    async fn key(&self, kid: Option<&str>) -> Option<(Vec<u8>, Vec<u8>)> {
        if let (Some(found), false) = self.look(kid).await {
            return Some(found);
        }
        let _one = self.reading.lock().await;
        let (found, stale) = self.look(kid).await;
        if found.is_some() && !stale {
            return found;
        }
        if found.is_none() && !stale {
            let mut keys = self.keys.write().await;
            let now = Instant::now();
            let recently =
                |t: Option<Instant>| t.is_some_and(|t| now.duration_since(t) < UNKNOWN_KEY_REFETCH);
            if recently(keys.last_unknown_read) || recently(keys.last_failed_read) {
                return None;
            }
            keys.last_unknown_read = Some(now);
        }
        if let Err(e) = self.read_keys().await {
            // The keys held stay in use: the provider being away is no reason to refuse
            // tokens it signed with them.
            tracing::warn!(error = %e, "could not read the provider's keys again");
        }
        pick(&self.keys.read().await.by_id, kid)
    }

    /// The key a token names among those held, and whether they are due to be read again.
    async fn look(&self, kid: Option<&str>) -> (Option<(Vec<u8>, Vec<u8>)>, bool) {
        let keys = self.keys.read().await;
        let now = Instant::now();
        let stale = keys
            .read_at
            .is_none_or(|t| now.duration_since(t) >= keys.keep_for)
            && keys
                .last_failed_read
                .is_none_or(|t| now.duration_since(t) >= UNKNOWN_KEY_REFETCH);
        (pick(&keys.by_id, kid), stale)
    }

    /// Reads the provider's keys (at start, and under `reading`).
    async fn read_keys(&self) -> Result<(), OidcError> {
        match get_json(&self.http, &self.jwks_uri).await {
            Ok((doc, keep_for)) => {
                let by_id = rsa_keys(&doc);
                if by_id.is_empty() {
                    self.keys.write().await.last_failed_read = Some(Instant::now());
                    return Err(OidcError::Discovery {
                        url: self.jwks_uri.clone(),
                        problem: "holds no RSA signing key".to_owned(),
                    });
                }
                let mut keys = self.keys.write().await;
                keys.by_id = by_id;
                keys.read_at = Some(Instant::now());
                keys.keep_for = keep_for;
                keys.last_failed_read = None;
                Ok(())
            }
            Err(e) => {
                self.keys.write().await.last_failed_read = Some(Instant::now());
                Err(e)
            }
        }
    }
}

fn pick(
    keys: &HashMap<String, (Vec<u8>, Vec<u8>)>,
    kid: Option<&str>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    match kid {
        Some(kid) => keys.get(kid).cloned(),
        // A token without a key id is usable only where there is one key to choose.
        None if keys.len() == 1 => keys.values().next().cloned(),
        None => None,
    }
}

/// The RSA signing keys of a JSON Web Key Set, by key id.
fn rsa_keys(doc: &Value) -> HashMap<String, (Vec<u8>, Vec<u8>)> {
    let keys = doc["keys"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    keys.iter()
        .filter(|k| k["kty"] == "RSA")
        .filter(|k| k.get("use").is_none_or(|u| u == "sig"))
        .filter(|k| k.get("alg").is_none_or(|a| a == "RS256"))
        .filter_map(|k| {
            let n = base64url(k["n"].as_str()?)?;
            let e = base64url(k["e"].as_str()?)?;
            let kid = k["kid"].as_str().unwrap_or_default().to_owned();
            Some((kid, (n, e)))
        })
        .collect()
}

/// GETs JSON, with how long it may be kept.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<(Value, Duration), OidcError> {
    let unreachable = |reason: String| OidcError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let res = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !res.status().is_success() {
        return Err(unreachable(format!("answered {}", res.status())));
    }
    let keep_for = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
        })
        .map_or(DEFAULT_KEYS_FOR, |s| {
            Duration::from_secs(s.clamp(60, 24 * 3600))
        });
    let doc = res
        .json::<Value>()
        .await
        .map_err(|e| unreachable(format!("not JSON: {e}")))?;
    Ok((doc, keep_for))
}

fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

fn b64(s: &str) -> Result<Vec<u8>, Rejected> {
    base64url(s).ok_or(Rejected::Invalid("the token is not a JSON Web Token"))
}

fn decode_json(part: &str) -> Result<Value, Rejected> {
    serde_json::from_slice::<Value>(&b64(part)?)
        .ok()
        .filter(Value::is_object)
        .ok_or(Rejected::Invalid("the token is not a JSON Web Token"))
}
