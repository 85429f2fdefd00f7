//! The api Lambda's application: the shared v2 router, reached by the path of the route
//! whatever API Gateway stage and domain the request came through, with the caller taken from
//! the JWT claims that API Gateway's authorizer verified.

use axum::extract::Request;
use axum::http::Uri;
use axum::Router;
use kiln::api::AppState;
use kiln::model::Owner;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use tower::ServiceBuilder;

/// The router of `state`, for API Gateway events: the owner is the verified token's `sub`.
pub fn app(state: AppState) -> Router {
    let api = kiln::api::router(state).layer(axum::middleware::map_request(owner_from_claims));
    // The path is rewritten before the router picks a route, so the rewrite wraps it whole.
    Router::new().fallback_service(
        ServiceBuilder::new()
            .layer(axum::middleware::map_request(route_path))
            .service(api),
    )
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

/// Sets the request's path to the route's. An HTTP API called on its `execute-api` address
/// through a named stage puts the stage in `rawPath` (`/v2/api/v2/projects`); behind a custom
/// domain's API mapping `rawPath` has neither the stage nor the mapping's key; and lambda_http
/// puts the stage in front in both cases. The routes know no stage, so the path is taken from
/// `rawPath` again, without the stage where API Gateway put it there.
async fn route_path(mut req: Request) -> Request {
    let (stage, domain) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.stage.clone().unwrap_or_default(),
            ctx.domain_name.clone().unwrap_or_default(),
        ),
        _ => return req,
    };
    let raw = req.raw_http_path().to_owned();
    if !raw.starts_with('/') {
        return req;
    }
    let path = without_stage(&raw, &stage, &domain);
    let target = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(path_and_query) = target.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// `raw` without a leading `/{stage}` when API Gateway put it there: a named stage (not
/// `$default`) on the API's `execute-api` address.
pub fn without_stage<'a>(raw: &'a str, stage: &str, domain: &str) -> &'a str {
    if stage.is_empty() || stage == "$default" || !domain.contains(".execute-api.") {
        return raw;
    }
    match raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::without_stage;

    #[test]
    fn only_a_stage_api_gateway_put_in_the_path_is_taken_out() {
        let api = "kilnapi.execute-api.eu-west-1.amazonaws.com";
        let custom = "api.example.com";
        for (raw, stage, domain, want) in [
            ("/api/v2/projects", "$default", api, "/api/v2/projects"),
            ("/v2/api/v2/projects", "v2", api, "/api/v2/projects"),
            ("/v2", "v2", api, "/"),
            ("/v2x/api", "v2", api, "/v2x/api"),
            ("/api/v2/projects", "v2", custom, "/api/v2/projects"),
            // A stage named like the first segment of a route, behind a custom domain.
            ("/api/v2/projects", "api", custom, "/api/v2/projects"),
            ("/api/api/v2/projects", "api", api, "/api/v2/projects"),
        ] {
            assert_eq!(
                without_stage(raw, stage, domain),
                want,
                "{raw} {stage} {domain}"
            );
        }
    }
}
