//! The web inbox (`/inbox`): plain HTML, CSS and JavaScript compiled into the
//! binary, talking to the agent API with the signed-in user's token; and the
//! live event stream it listens to (`GET /api/v1/events`, server-sent events).

use super::AppState;
use super::auth::principal;
use super::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

const INDEX: &str = include_str!("inbox/index.html");
const APP_JS: &str = include_str!("inbox/app.js");
const APP_CSS: &str = include_str!("inbox/app.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Only our own script and styles; no inline code, no framing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// `GET /inbox`
pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `GET /inbox/app.js`
pub async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

/// `GET /inbox/app.css`
pub async fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

/// `GET /api/v1/events`: "ticket N changed" for the caller's tenant, as
/// server-sent events (`event: ticket`, data `{"ticket":N,"kind":"message"}`;
/// `event: reload` if the connection fell behind). The stream ends when the
/// server shuts down.
pub async fn events(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let who = principal(&state, &headers)?;
    let tenant = who.tenant.config.id.clone();
    let mut rx = state.events.subscribe();
    let mut shutdown = state.shutdown.clone();
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let _ = tx.send(Ok(Event::default().event("hello").data("{}"))).await;
        loop {
            let event = tokio::select! {
                e = rx.recv() => e,
                _ = shutdown.changed() => break,
                _ = tx.closed() => break,
            };
            let sse = match event {
                Ok(e) if e.tenant == tenant => match Event::default().event("ticket").json_data(&e) {
                    Ok(sse) => sse,
                    Err(_) => continue,
                },
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Event::default().event("reload").data("{}"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(Ok(sse)).await.is_err() {
                break;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(out)).keep_alive(KeepAlive::default()))
}
