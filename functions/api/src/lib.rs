//! The api Lambda's application: the shared v2 router, with the caller taken from the JWT
//! claims that API Gateway's authorizer verified.

use axum::extract::Request;
use axum::Router;
use kiln::api::AppState;
use kiln::model::Owner;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

/// The router of `state`, for API Gateway events: the owner is the verified token's `sub`.
pub fn app(state: AppState) -> Router {
    kiln::api::router(state).layer(axum::middleware::map_request(owner_from_claims))
}

/// Puts the authorizer's `sub` claim into the request as its [`Owner`]. A request without one
/// gets none, and the router answers 401.
async fn owner_from_claims(mut req: Request) -> Request {
    let owner = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get("sub"))
            .filter(|sub| !sub.is_empty())
            .cloned(),
        _ => None,
    };
    if let Some(sub) = owner {
        req.extensions_mut().insert(Owner(sub));
    }
    req
}
