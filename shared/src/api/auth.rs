//! What a client must do to sign in, asked before it has: `GET /api/v2/auth/config`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// How a client signs in to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Nothing to do: every request acts for the server's one owner.
    None,
    /// Every request carries one of the server's tokens (`KILN_TOKEN`, `KILN_TOKENS`) as a
    /// bearer token.
    Token,
    /// People sign in with an OpenID Connect provider (authorization code with PKCE, see
    /// `oidc`), and every request carries the ID token it gives as a bearer token.
    Oidc,
}

/// What signing in takes here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthConfig {
    /// How to sign in.
    pub mode: AuthMode,
    /// Where and how, when `mode` is `oidc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<super::oidc::SignIn>,
}

/// How to sign in to this server; answered to anyone.
#[utoipa::path(
    get,
    path = "/api/v2/auth/config",
    tag = "auth",
    security(()),
    responses((status = 200, description = "How to sign in", body = AuthConfig))
)]
pub async fn auth_config(State(state): State<AppState>) -> Json<AuthConfig> {
    Json(AuthConfig {
        mode: state.auth.mode(),
        oidc: state.auth.sign_in().cloned(),
    })
}
