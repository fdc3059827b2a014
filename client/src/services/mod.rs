//! The only layer that touches the browser (web-sys, gloo, js-sys): HTTP, WebSockets, timers
//! and the few DOM helpers the components need. Hooks call into it and
//! own what it returns, so dropping a hook's value releases the browser object.

pub mod api;
pub mod chat;
pub mod dom;
pub mod player;
pub mod session;
pub mod studio;

/// A repeating timer; dropping it cancels it.
pub use gloo_timers::callback::Interval;

/// The port `trunk serve` listens on (Trunk.toml).
const TRUNK_SERVE_PORT: &str = "8081";

/// The WebSocket URL for a server path like `/api/rooms/ID/chat`, on the page's own host.
///
/// `trunk serve` (port 8081, see Trunk.toml) cannot proxy HTTP and WebSocket on one path, so
/// pages it serves go through its `/ws/…` rewrite; pages served by `onair` itself (any build,
/// including `--web-root` dev builds) connect directly.
pub fn ws_url(path: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = match location.protocol().ok()?.as_str() {
        "https:" => "wss:",
        _ => "ws:",
    };
    let host = location.host().ok()?;
    let prefix = if location.port().ok()?.as_str() == TRUNK_SERVE_PORT {
        "/ws"
    } else {
        ""
    };
    Some(format!("{scheme}//{host}{prefix}{path}"))
}

/// A default display name such as `viewer-1234`; the user may change it.
pub fn random_name() -> String {
    let n = (js_sys::Math::random() * 10_000.0) as u32 % 10_000;
    format!("viewer-{n:04}")
}

/// Logs an expected, recoverable failure (a dropped socket, a failed poll).
///
/// A warning, not `console.error`: these are handled and shown in the UI, and the browser
/// tests treat console errors as bugs.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&message.into());
}
