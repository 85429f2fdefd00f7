//! The api Lambda's application: the shared v2 router, reached by the path of the route
//! whatever API Gateway stage and domain the request came through, with the caller taken from
//! the JWT claims that API Gateway's authorizer verified.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use kiln::api::{ApiError, AppState};
use kiln::model::Owner;
use tower::ServiceExt;

pub mod gateway;

pub use gateway::without_stage;

/// The router of `state`, for API Gateway events: the owner is the verified token's `sub`.
pub fn app(state: AppState) -> Router {
    kiln::api::router(state).layer(axum::middleware::map_request(owner_from_claims))
}

/// Answers one API Gateway event with `app`: an event that is not a request (a body that is
/// not the base64 it says it is, a path that is no URI) is answered 400 without reaching it.
pub async fn handle(app: &Router, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let req = match gateway::request(event) {
        Ok(req) => req,
        Err(gateway::BadEvent(why)) => {
            let refused = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", why);
            return gateway::response(refused.into_response()).await;
        }
    };
    match app.clone().oneshot(req).await {
        Ok(res) => gateway::response(res).await,
        Err(never) => match never {},
    }
}

/// Puts the authorizer's `sub` claim into the request as its [`Owner`]. A request without one
/// gets none, and the router answers 401.
async fn owner_from_claims(mut req: Request) -> Request {
    let owner = req
        .extensions()
        .get::<gateway::Context>()
        .and_then(|gateway::Context(ctx)| ctx.authorizer.as_ref())
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .filter(|sub| !sub.is_empty())
        .cloned();
    if let Some(sub) = owner {
        req.extensions_mut().insert(Owner(sub));
    }
    req
}

#[cfg(test)]
mod tests {
    use super::handle;

    /// An event whose body is not the base64 it says it is never reaches the router: it is
    /// answered 400 in Kiln's error shape, as API Gateway reads the answer.
    #[tokio::test]
    async fn a_broken_event_is_answered_in_kilns_error_shape() {
        let event = serde_json::from_value(serde_json::json!({
            "version": "2.0", "rawPath": "/api/v2/projects", "rawQueryString": "",
            "headers": {}, "isBase64Encoded": true, "body": "not base64!",
            "requestContext": {"http": {"method": "POST", "path": "/api/v2/projects"},
                               "timeEpoch": 0}
        }))
        .unwrap();
        let wire = serde_json::to_value(handle(&axum::Router::new(), event).await).unwrap();
        assert_eq!(wire["statusCode"], 400, "{wire}");
        let body: serde_json::Value = serde_json::from_str(wire["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    }

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
