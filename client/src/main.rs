//! The onair web app (Yew → wasm, built by trunk).
//!
//! # Layout
//! - `app`: the router and the shared layout (header, navigation).
//! - `pages/`: one component per route: lobby `/`, studio `/push.html`, player `/watch/:room`
//!   (and `/play.html?room=…`), not-found.
//! - `components/`: reusable pieces; `chat` is the comments / likes / gifts overlay, `player`
//!   the live video with its state, Unmute button and stats overlay.
//! - `hooks/`: own the browser objects from `services/` (sockets, timers, players) and release
//!   them on unmount: `use_chat`, `use_rooms`, `use_player`.
//! - `services/`: the only layer that touches web-sys / gloo: rooms API, chat socket, DOM
//!   helpers, and `player/` (FLV → fMP4 in wasm → MSE, latency control).

mod app;
mod components;
mod hooks;
mod pages;
mod services;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
