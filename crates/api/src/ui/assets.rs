//! The UI's static files, embedded in the binary: htmx 2.0.11 (vendored from the npm
//! package `htmx.org`, 0BSD, `assets/htmx.LICENSE`), bosun's stylesheet, its one
//! small script and its icon. They change only with the binary, so browsers may keep them an hour.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// `(name, content type, bytes)` of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    ("htmx.min.js", "text/javascript; charset=utf-8", include_str!("../../assets/htmx.min.js")),
    ("bosun.js", "text/javascript; charset=utf-8", include_str!("../../assets/bosun.js")),
    ("bosun.css", "text/css; charset=utf-8", include_str!("../../assets/bosun.css")),
    // Every page names it: a browser that found none would ask for /favicon.ico, and
    // log the 404 as a console error.
    ("favicon.svg", "image/svg+xml", include_str!("../../assets/favicon.svg")),
];

/// The embedded assets' total size in bytes (the system page shows it).
pub fn total_bytes() -> usize {
    ASSETS.iter().map(|(_, _, body)| body.len()).sum()
}

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
