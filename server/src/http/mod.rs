//! The HTTP/WebSocket front: `app(state)` builds the one router every HTTP feature hangs on.
//!
//! - [`guard`]: cross-site and content-type checks, and headers on every response.
//! - [`site`]: how the client reached us (scheme, host, IP; trusted proxies).
//! - [`body`]: the API's JSON body reader (size-limited, JSON errors).
//! - [`https`] serves the router over TLS; [`redirect`] is the separate plain-HTTP app of
//!   `--http-redirect`.

pub mod body;
pub mod guard;
pub mod https;
pub mod redirect;
pub mod site;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::accounts::Caller;
use crate::error::ApiError;

/// Builds the router: health, API, media routes, and the client app as the fallback.
pub fn app(state: Arc<AppState>) -> Router {
    let tls = state.config.tls.enabled();
    let api = Router::new()
        .merge(crate::rooms::routes())
        .merge(crate::accounts::api::routes())
        .layer(DefaultBodyLimit::max(body::MAX_BODY));
    let media = Router::new()
        .merge(crate::live::routes())
        .merge(crate::hls::routes())
        .merge(crate::record::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::rooms::access::media_guard,
        ));
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/streams", get(streams))
        .merge(api)
        .merge(media)
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state);
    hsts(router, tls)
}

/// Under TLS every response carries `Strict-Transport-Security`, so a browser that has
/// been here once never tries plain HTTP again (for a year). Not on plain HTTP: browsers
/// ignore it there, and a server without TLS must not promise it.
fn hsts(router: Router, tls: bool) -> Router {
    if !tls {
        return router;
    }
    router.layer(axum::middleware::map_response(
        |mut response: Response| async move {
            response.headers_mut().insert(
                axum::http::header::STRICT_TRANSPORT_SECURITY,
                axum::http::HeaderValue::from_static("max-age=31536000"),
            );
            response
        },
    ))
}

/// Operational data is for admins unless `metrics_public` says otherwise.
fn stats_allowed(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if state.config.metrics_public {
        return Ok(());
    }
    Ok(caller.require_admin()?)
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
    }))
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    stats_allowed(&state, &caller)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    ))
}

async fn streams(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    stats_allowed(&state, &caller)?;
    let infos: Vec<_> = state.hub.streams().iter().map(|s| s.info()).collect();
    Ok(Json(infos))
}

/// API and media paths that match no route are JSON 404s; anything else is the client app.
async fn fallback(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    let path = uri.path();
    let server_prefixes = ["/api/", "/live/", "/hls/", "/vod/"];
    if server_prefixes.iter().any(|p| path.starts_with(p)) || path == "/api" {
        return ApiError::NotFound(format!("no such resource: {path}")).into_response();
    }
    match &state.config.web_root {
        Some(dir) => crate::assets::serve_dir(dir, path).await,
        None => crate::assets::serve(path),
    }
}
