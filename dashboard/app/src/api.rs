//! Calls to the JSON API. Mutations carry the session's CSRF token; errors arrive as the
//! API's `{code, message}`. The bottom of the app: it imports nothing from the modules above
//! it, and tells the shell that a session ended through [`on_signed_out`].

use std::cell::RefCell;

use gloo_net::http::{Request, RequestBuilder, Response};
use memori_types::http::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;

thread_local! {
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
    static ON_SIGNED_OUT: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// What to do when a call answers 401 (the session ended): the shell shows the sign-in form.
pub(crate) fn on_signed_out(f: impl Fn() + 'static) {
    ON_SIGNED_OUT.with(|c| *c.borrow_mut() = Some(Box::new(f)));
}

/// Remember the CSRF token of the signed-in session.
pub(crate) fn set_csrf(token: Option<String>) {
    CSRF.with(|c| *c.borrow_mut() = token);
}

/// An API path with one path segment percent-encoded (entity ids may hold `/` or spaces).
pub(crate) fn seg(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// What went wrong with a call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

pub(crate) type ApiResult<T> = Result<T, Failure>;

fn network(e: &gloo_net::Error) -> Failure {
    Failure { status: 0, code: "network".into(), message: format!("the server cannot be reached: {e}") }
}

async fn finish<T: DeserializeOwned>(res: Response) -> ApiResult<T> {
    let status = res.status();
    if (200..300).contains(&status) {
        if status == 204 {
            return serde_json::from_str("null").map_err(|e| Failure {
                status,
                code: "decode".into(),
                message: e.to_string(),
            });
        }
        return res.json::<T>().await.map_err(|e| Failure {
            status,
            code: "decode".into(),
            message: format!("unexpected answer: {e}"),
        });
    }
    let err =
        res.json::<ApiError>().await.unwrap_or(ApiError { code: "http".into(), message: format!("HTTP {status}") });
    Failure::check_session(status);
    Err(Failure { status, code: err.code, message: err.message })
}

impl Failure {
    /// A 401 means the session ended: forget the CSRF token and tell the shell.
    fn check_session(status: u16) {
        if status == 401 {
            set_csrf(None);
            ON_SIGNED_OUT.with(|c| {
                if let Some(f) = c.borrow().as_ref() {
                    f();
                }
            });
        }
    }
}

fn with_csrf(b: RequestBuilder) -> RequestBuilder {
    match CSRF.with(|c| c.borrow().clone()) {
        Some(t) => b.header("X-CSRF-Token", &t),
        None => b,
    }
}

fn url(path: &str) -> String {
    format!("/api/v1{path}")
}

/// `GET`.
pub(crate) async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    finish(Request::get(&url(path)).send().await.map_err(|e| network(&e))?).await
}

async fn send_json<T: DeserializeOwned>(b: RequestBuilder, body: &impl Serialize) -> ApiResult<T> {
    let req = with_csrf(b).json(body).map_err(|e| network(&e))?;
    finish(req.send().await.map_err(|e| network(&e))?).await
}

/// `POST` with a JSON body.
pub(crate) async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> ApiResult<T> {
    send_json(Request::post(&url(path)), body).await
}

/// `PUT` with a JSON body.
pub(crate) async fn put<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> ApiResult<T> {
    send_json(Request::put(&url(path)), body).await
}

/// `PATCH` with a JSON body.
pub(crate) async fn patch<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> ApiResult<T> {
    send_json(Request::patch(&url(path)), body).await
}

/// `DELETE`.
pub(crate) async fn delete<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    finish(with_csrf(Request::delete(&url(path))).send().await.map_err(|e| network(&e))?).await
}
