//! The live player: FLV (WS-FLV or HTTP-FLV) → `shared`'s remuxer in wasm → fMP4 → MSE,
//! or the server's LL-HLS (through MSE, or natively where the browser plays HLS itself),
//! with live-latency control, reconnects and stats.
//!
//! # Layout
//! - this file: [`Player`], what the hook holds, and the types the page sees.
//! - [`lifecycle`]: state, live check, reconnect with backoff and the 250 ms tick: written
//!   once for every transport.
//! - [`transport`]: the one interface a transport implements and the messages it reports
//!   with; [`flv`] (WS-FLV / HTTP-FLV over MSE), [`hls_mse`] (HLS over MSE) and
//!   [`native_hls`] implement it; [`hls`] is the playlist parser and part loop.
//! - [`playback`]: the `<video>` side: the `MediaSource` ([`mse`]), starting playback, and
//!   latency control with the pure controller in [`latency`]; [`stats`]: `window.onairStats`.
//!
//! Callbacks from the browser hold a `Weak` to the player, so dropping the [`Player`] (the
//! component unmounting) releases everything. A connection is never dropped inside its own
//! callback: it is parked and dropped on the next tick.

mod flv;
pub mod hls;
mod hls_mse;
pub mod latency;
mod lifecycle;
pub mod mse;
mod native_hls;
mod playback;
pub mod stats;
pub mod transport;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use web_sys::HtmlVideoElement;

pub use lifecycle::denied_reason;
use lifecycle::{Inner, with};
pub use stats::Stats;
pub use transport::Protocol;

/// What the player is doing, for the page.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayState {
    Connecting,
    /// The stream is not live (yet); playback starts by itself when it is.
    Offline,
    Playing,
    /// The connection dropped or the data stopped; trying again.
    Reconnecting,
    /// The stream ended; it starts again by itself if the streamer comes back.
    Ended,
    /// Something this browser cannot do (codec, MSE); retried with backoff.
    Error(String),
    /// A private room without a valid token (or one that expired): not retried.
    Denied(String),
}

/// Player settings from the page (URL query).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub room: String,
    /// A private room's play token, passed to every media URL.
    pub token: Option<String>,
    /// Whether `room` is a room of the rooms API (its state comes from `GET /api/rooms/ID`);
    /// otherwise a stream pushed by name (`--open-publish`), looked up in the stream list.
    pub is_room: bool,
    pub protocol: Protocol,
    /// Target latency, seconds.
    pub target_latency: f64,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: PlayState,
    /// Playing muted because the browser refused autoplay with sound.
    pub muted: bool,
    pub stats: Stats,
}

/// A running player; dropping it stops it and releases the browser objects.
pub struct Player {
    inner: Rc<RefCell<Inner>>,
    _tick: super::Interval,
}

impl Player {
    /// [`Player::start`] on the `<video>` behind `node`; `None` if it is not mounted.
    pub fn start_on(
        node: &yew::NodeRef,
        options: Options,
        on_status: Rc<dyn Fn(Status)>,
    ) -> Option<Self> {
        Some(Self::start(
            node.cast::<HtmlVideoElement>()?,
            options,
            on_status,
        ))
    }

    /// Starts playing `options.room` into `video`; `on_status` hears of every change.
    pub fn start(video: HtmlVideoElement, options: Options, on_status: Rc<dyn Fn(Status)>) -> Self {
        let inner = Inner::new(video, options, on_status);
        let weak: Weak<RefCell<Inner>> = Rc::downgrade(&inner);
        let tick = super::Interval::new(lifecycle::TICK_MS, move || with(&weak, Inner::tick));
        with(&Rc::downgrade(&inner), Inner::tick);
        Self { inner, _tick: tick }
    }

    /// Turns the sound on (a click on **Unmute** is the gesture browsers want).
    pub fn unmute(&self) {
        self.inner.borrow_mut().unmute();
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.stop();
        }
    }
}
