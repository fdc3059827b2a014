//! The onair web app (Yew → wasm, built by trunk).
//!
//! # Layout
//! - `app`: the router and the shared layout (header, navigation).
//! - `pages/`: one component per route: lobby `/`, studio `/push.html`, player `/watch/:room`
//!   (and `/play.html?room=…`), not-found.
//! - Later: `services/` is the only layer that touches web-sys (media, sockets).

mod app;
mod pages;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
