//! `/api/session` (sign in by password or one-time link, who am I, sign out, change
//! password), `/api/signup` (with `open_signup`), and the admin's `/api/users`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use serde::Deserialize;
use serde_json::json;

use super::caller::{Caller, clear_cookie, session_cookie, set_cookie};
use super::{AccountError, Role, User, UserView};
use crate::AppState;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::http::site::Site;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/session", get(whoami).post(sign_in).delete(sign_out))
        .route("/api/session/password", put(change_password))
        .route("/api/signup", axum::routing::post(sign_up))
        .route("/api/users", get(users).post(add_user))
        .route("/api/users/{name}", delete(remove_user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: Option<String>,
    password: Option<String>,
    link: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
    current: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default = "streamer")]
    role: Role,
}

fn streamer() -> Role {
    Role::Streamer
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    name: String,
    password: String,
}

/// The session answer: the user, and a cookie when a session was just made.
fn session_response(status: StatusCode, user: &User, cookie: Option<HeaderValue>) -> Response {
    let body = json!({
        "user": UserView::from(user),
        "must_set_password": !user.has_password,
    });
    let mut res = (status, Json(body)).into_response();
    if let Some(cookie) = cookie {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn sign_in(
    State(state): State<Arc<AppState>>,
    site: Site,
    JsonBody(req): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let (user, token) = match (req.link, req.name, req.password) {
        (Some(link), None, None) => state.accounts.sign_in_by_link(&link, site.client_ip)?,
        (None, Some(name), Some(password)) => {
            state
                .accounts
                .sign_in(&name, &password, site.client_ip)
                .await?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "send {\"name\", \"password\"} or {\"link\"}".into(),
            ));
        }
    };
    Ok(session_response(
        StatusCode::OK,
        &user,
        Some(set_cookie(&token, site.https)),
    ))
}

/// Who is signed in: `{"user": null}` for a visitor (a page asks on every load, and a
/// 401 there would be a console error for everyone); 401 only for a session that no longer
/// exists, so the browser learns to drop it.
async fn whoami(caller: Caller) -> Result<Response, ApiError> {
    match caller {
        Caller::AdminToken => Ok(
            Json(json!({"user": {"name": "admin-token", "role": "admin"},
            "must_set_password": false}))
            .into_response(),
        ),
        Caller::Anonymous => {
            Ok(Json(json!({"user": null, "must_set_password": false})).into_response())
        }
        other => Ok(session_response(StatusCode::OK, other.signed_in()?, None)),
    }
}

async fn sign_out(
    State(state): State<Arc<AppState>>,
    site: Site,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers) {
        state.accounts.sign_out(token)?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(site.https));
    Ok(res)
}

async fn change_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    site: Site,
    JsonBody(req): JsonBody<NewPassword>,
) -> Result<Response, ApiError> {
    let user = caller.signed_in()?;
    let token = state
        .accounts
        .change_password(user, req.current.as_deref(), &req.password)
        .await?;
    tracing::info!(user = %user.name, "password changed; other sessions ended");
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&token, site.https));
    Ok(res)
}

async fn sign_up(
    State(state): State<Arc<AppState>>,
    site: Site,
    JsonBody(req): JsonBody<SignUp>,
) -> Result<Response, ApiError> {
    if !state.config.open_signup {
        return Err(AccountError::SignupClosed.into());
    }
    let (user, token) = state
        .accounts
        .sign_up(&req.name, &req.password, site.client_ip)
        .await?;
    Ok(session_response(
        StatusCode::CREATED,
        &user,
        Some(set_cookie(&token, site.https)),
    ))
}

async fn users(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require_admin()?;
    let users = state.accounts.users()?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

async fn add_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(req): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let user = state
        .accounts
        .add_user(&req.name, req.role, &req.password)
        .await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), "user added");
    Ok((StatusCode::CREATED, Json(UserView::from(&user))).into_response())
}

async fn remove_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    state.accounts.remove_user(&name)?;
    Ok(StatusCode::NO_CONTENT)
}
