//! The studio's room: the one it created before (id + stream key kept in `localStorage`, so a
//! reload reuses it), the push URL built from it, the page's query options, and the live
//! viewer count from `/api/streams`.

use serde::{Deserialize, Serialize};

/// Where the studio keeps its room between visits.
const STORAGE_KEY: &str = "onair.studio.room";

/// A room the studio can push to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRoom {
    pub id: String,
    pub title: String,
    pub stream_key: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The room saved by an earlier visit, if any.
pub fn load() -> Option<SavedRoom> {
    let text = storage()?.get_item(STORAGE_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn save(room: &SavedRoom) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(room)) {
        // Private modes may refuse; the room then lasts for this visit only.
        let _ = storage.set_item(STORAGE_KEY, &text);
    }
}

pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
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

/// Viewers of the room's stream over all protocols, or `None` if it is not live.
pub async fn stream_viewers(room: &str) -> Result<Option<u64>, String> {
    let stream = crate::services::api::stream(room).await?;
    Ok(stream.map(|s| s.viewers.values().sum()))
}
