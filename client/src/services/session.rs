//! The sign-in hint kept in `localStorage`.
//!
//! The session cookie is `HttpOnly`, so the page cannot see it. The page remembers that it
//! signed in (and as whom, to show the name at once) and asks `GET /api/session` only then:
//! a visitor's page makes no session request at all, and a stale hint (cookie expired,
//! signed out elsewhere: the server answers 401 or `{"user": null}`) costs one request and
//! is cleared.

use crate::services::api::User;

const HINT_KEY: &str = "onair.session";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The user this browser signed in as, if it did (unconfirmed until the server says so).
pub fn hint() -> Option<User> {
    let text = storage()?.get_item(HINT_KEY).ok()??;
    let (name, role) = text.split_once(':')?;
    Some(User {
        name: name.to_string(),
        role: role.to_string(),
    })
}

pub fn remember(user: &User) {
    if let Some(storage) = storage() {
        // Private modes may refuse; the session then shows after each sign-in only.
        let _ = storage.set_item(HINT_KEY, &format!("{}:{}", user.name, user.role));
    }
}

pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(HINT_KEY);
    }
}

/// Whether the page is a secure context (HTTPS, or localhost): camera and screen capture
/// need one.
pub fn is_secure_context() -> bool {
    web_sys::window().is_some_and(|w| w.is_secure_context())
}

/// The page's host (`name:port`), for "open https://HOST/…" advice.
pub fn host() -> String {
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}

/// Navigates the whole page (after sign-in, to `?next=`); `path` must be same-origin.
pub fn go_to(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
}

/// Copies text to the clipboard (the "Copy" buttons); `false` where the browser has no
/// clipboard (insecure pages) or refused.
pub async fn copy(text: &str) -> bool {
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return false;
    };
    let clipboard = js_sys::Reflect::get(&window.navigator(), &"clipboard".into())
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Clipboard>().ok());
    let Some(clipboard) = clipboard else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
        .await
        .is_ok()
}
