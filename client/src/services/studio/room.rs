//! The studio's room (id + stream key, in memory), the push URL built from it, the page's
//! query options, and the live viewer count from the room lists.

/// A room the studio can push to: its key lives in memory only, for this page session
/// (it is shown once by the server, and never stored in the browser).
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRoom {
    pub id: String,
    pub title: String,
    pub stream_key: String,
}

/// One `key=value` of the page's query string.
pub fn query(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name)
}

/// The viewers' page for a room, on this server.
pub fn share_link(room: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/watch/{room}")
}

/// Query options passed through to the push URL: read only by a server started with its
/// test hooks on (`server/src/live/hooks.rs`), ignored otherwise.
const PASS_THROUGH: [&str; 3] = ["throttle_kbps", "throttle_secs", "drop_after_secs"];

/// `ws(s)://HOST/live/ROOM.flv?key=KEY[&…]`.
pub fn push_url(room: &str, key: &str) -> Option<String> {
    let mut path = format!(
        "/live/{room}.flv?key={}",
        String::from(js_sys::encode_uri_component(key))
    );
    for name in PASS_THROUGH {
        if let Some(value) = query(name) {
            path.push_str(&format!(
                "&{name}={}",
                String::from(js_sys::encode_uri_component(&value))
            ));
        }
    }
    crate::services::ws_url(&path)
}

/// Viewers of the room's stream, or `None` if it is not live (or not a room at all: a
/// stream name from `?room=`). Read from the room lists, never `GET /api/rooms/ID`, so a
/// name that is no room costs no 404 every few seconds.
pub async fn stream_viewers(room: &str) -> Result<Option<u64>, String> {
    let api = crate::services::api::ApiError::to_string;
    let mut rooms = crate::services::api::rooms().await.map_err(|e| api(&e))?;
    if !rooms.iter().any(|r| r.id == room) && crate::services::session::hint().is_some() {
        rooms = crate::services::api::my_rooms()
            .await
            .map_err(|e| api(&e))?;
    }
    Ok(rooms
        .into_iter()
        .find(|r| r.id == room && r.live)
        .map(|r| r.viewers))
}
