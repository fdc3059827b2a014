//! The one publish flow every ingest runs (RTMP, HTTP-FLV, WS-FLV, and later ones): the
//! stream name is checked, then the key ([`crate::auth::PublishAuth`]), then the hub takes
//! the publisher. A refusal is counted here, once, whichever step refused.

use std::sync::atomic::Ordering;

use crate::AppState;
use crate::auth::{AuthError, valid_name};
use crate::hub::{HubError, Protocol, Publisher};

/// Why a publisher was refused; each ingest maps it to its own reply (an RTMP status, an
/// HTTP status, a WebSocket close code).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// Starts publishing `app/room` with `key` over `protocol`.
pub fn start(
    state: &AppState,
    app: &str,
    room: &str,
    key: Option<&str>,
    protocol: Protocol,
) -> Result<Publisher, PublishError> {
    let attempt = || -> Result<Publisher, PublishError> {
        if !valid_name(room) || !valid_name(app) {
            return Err(AuthError::BadName(format!("{app}/{room}")).into());
        }
        state.auth.authorize(app, room, key)?;
        Ok(state.hub.publish(&format!("{app}/{room}"), protocol)?)
    };
    attempt().inspect_err(|_| {
        state
            .metrics
            .refused_publishes
            .fetch_add(1, Ordering::Relaxed);
    })
}
