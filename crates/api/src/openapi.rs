//! The OpenAPI document, generated from the handlers' annotations, and its route.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{chat, clusters, jobs, locks, ops, plan, services, system};

/// The route of the document; like the other operations routes, it needs no token.
pub fn router() -> Router<crate::State> {
    Router::new().route("/openapi.json", get(openapi))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The document served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "bosun", description = "Desired-state reconciler for AWS ECS: stackfiles in S3, reconcile jobs on SQS."),
    paths(
        clusters::list, clusters::create, clusters::get_config, clusters::put_config, clusters::deploy,
        clusters::history, clusters::rollback, clusters::status,
        locks::get_lock, locks::put_lock, locks::delete_lock,
        services::list, services::tags, services::update, services::remove,
        plan::current, plan::candidate, plan::validate,
        jobs::get,
        system::system,
        chat::say, chat::act, chat::proposal,
        ops::healthz, ops::readyz, ops::metrics, openapi,
    ),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/clusters",
            "/api/v1/clusters/{cluster}/config",
            "/api/v1/clusters/{cluster}/lock",
            "/api/v1/clusters/{cluster}/services/{service}",
            "/api/v1/clusters/{cluster}/services/{service}/tags",
            "/api/v1/jobs/{id}",
            "/readyz",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        assert!(paths["/api/v1/clusters/{cluster}/config"].get("put").is_some());
        for method in ["get", "put", "delete"] {
            assert!(paths["/api/v1/clusters/{cluster}/lock"].get(method).is_some(), "{method} lock");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }
}
