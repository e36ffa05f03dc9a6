//! The handlers, one module per resource, each with its `router()`; and what they
//! share: the checked names of a path, and nysa's list envelope.

pub mod chat;
pub mod clusters;
pub mod jobs;
pub mod locks;
pub mod ops;
pub mod plan;
pub mod services;
pub mod system;

use axum::extract::{FromRequestParts, Path};
use http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::names::check_name;

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
        self.service.as_deref().expect("service routes have a {service} segment")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Names {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", format!("the path is not valid: {}", e.body_text())))?;
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
