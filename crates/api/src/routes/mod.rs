//! The handlers, one module per resource, each with its `router()`; and what they
//! share: the checked names of a path, and nysa's list envelope.

pub mod clusters;
pub mod jobs;
pub mod ops;
pub mod plan;
pub mod services;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::routing::{get, post, put};
use http::request::Parts;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::names::check_name;

/// Every route.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route(
            "/api/v1/clusters",
            get(clusters::list).post(clusters::create),
        )
        .route(
            "/api/v1/clusters/{cluster}/config",
            get(clusters::get_config).put(clusters::put_config),
        )
        .route("/api/v1/clusters/{cluster}/deploy", post(clusters::deploy))
        .route("/api/v1/clusters/{cluster}/history", get(clusters::history))
        .route(
            "/api/v1/clusters/{cluster}/rollback",
            post(clusters::rollback),
        )
        .route("/api/v1/clusters/{cluster}/status", get(clusters::status))
        .route(
            "/api/v1/clusters/{cluster}/plan",
            get(plan::current).post(plan::candidate),
        )
        .route("/api/v1/clusters/{cluster}/services", get(services::list))
        .route(
            "/api/v1/clusters/{cluster}/services/{service}",
            put(services::update).delete(services::remove),
        )
        .route(
            "/api/v1/clusters/{cluster}/services/{service}/tags",
            get(services::tags),
        )
        .route("/api/v1/jobs/{id}", get(jobs::get))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
}

/// The names in a route's path, checked: `{cluster}` and, where present, `{service}`.
#[derive(Debug, Clone)]
pub struct Names {
    /// The cluster.
    pub cluster: String,
    /// The service, on service routes.
    pub service: Option<String>,
}

impl Names {
    /// The service name; only called on routes that have one.
    pub fn service(&self) -> &str {
        self.service
            .as_deref()
            .expect("service routes have a {service} segment")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Names {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_path",
                    format!("the path is not valid: {}", e.body_text()),
                )
            })?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cluster = get("cluster").unwrap_or_default();
        check_name("cluster", &cluster)?;
        let service = get("service");
        if let Some(s) = &service {
            check_name("service", s)?;
        }
        Ok(Self { cluster, service })
    }
}

/// `{"content": [...]}`, nysa's list envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Content<T> {
    /// The items.
    pub content: Vec<T>,
}
