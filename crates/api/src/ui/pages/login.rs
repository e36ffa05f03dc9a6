//! Signing in with an API token, and out.

use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, Uri, header};
use serde::Deserialize;

use crate::auth::token_hash;
use crate::ui::client::Problem;
use crate::ui::session::{COOKIE, Claims, LOGIN_COOKIE, login_nonce, over_https, set_cookie};
use crate::ui::{Nav, UiState, render, unix_now};

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    login_csrf: String,
    next: String,
    problem: Option<Problem>,
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `next` if it is a path on this site, else `/`: a sign-in link cannot send the
/// browser elsewhere.
fn local(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 2048 => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A value percent-encoded for a query string.
pub fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).map(|s| s[2..].to_owned()).unwrap_or_default()
}

fn form_page(next: String, problem: Option<Problem>, status: StatusCode, https: bool) -> Response {
    let nonce = login_nonce();
    let page = LoginPage { nav: Nav::default(), login_csrf: nonce.clone(), next, problem };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    if let Ok(v) = set_cookie(LOGIN_COOKIE, &nonce, Duration::from_secs(3600), https).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /login`.
pub async fn form(Query(q): Query<Next>, headers: HeaderMap, uri: Uri) -> Response {
    form_page(local(q.next.as_deref()), None, StatusCode::OK, over_https(&headers, &uri))
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
    next: Option<String>,
}

/// `POST /login`: a known token sets the session cookie; anything else shows the form
/// again with the reason. The CSRF check ran before ([`crate::ui::guard`]).
pub async fn sign_in(State(ui): State<UiState>, headers: HeaderMap, uri: Uri, Form(f): Form<SignIn>) -> Response {
    let https = over_https(&headers, &uri);
    let next = local(f.next.as_deref());
    let token = f.token.trim();
    if token.len() > 512 || ui.app.tokens.current().authenticate(token).is_none() {
        let problem = Problem {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized".into(),
            message: "that token is not one of bosun's tokens".into(),
            details: Vec::new(),
            request_id: None,
        };
        return form_page(next, Some(problem), StatusCode::UNAUTHORIZED, https);
    }
    let claims = Claims::new(token_hash(token), unix_now(), ui.config.session_ttl);
    let mut resp = Redirect::to(&next).into_response();
    for cookie in [
        set_cookie(COOKIE, &claims.seal(&ui.config.key), ui.config.session_ttl, https),
        set_cookie(LOGIN_COOKIE, "", Duration::ZERO, https),
    ] {
        if let Ok(v) = cookie.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// `POST /logout`: the cookie is cleared.
pub async fn sign_out(headers: HeaderMap, uri: Uri) -> Response {
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(COOKIE, "", Duration::ZERO, over_https(&headers, &uri)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local(Some("/clusters/demo")), "/clusters/demo");
        for away in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil"] {
            assert_eq!(local(Some(away)), "/", "{away}");
        }
        assert_eq!(local(None), "/");
        assert_eq!(encode("/a b?c=d&e"), "%2Fa+b%3Fc%3Dd%26e");
    }
}
