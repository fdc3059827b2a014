//! How the modules below the engine report to it.
//!
//! The engine owns all broadcast state and runs as one task draining its mailbox. Capture,
//! canvas, recorder and uplink each define what they report and get a [`Report`] from
//! the engine that only enqueues it. So no browser callback touches the engine's state,
//! none runs inside another, and nothing is dropped inside its own callback. A `Report`
//! does not keep the engine alive: once the engine has stopped it returns `false`, and
//! what it carried is released.

use std::rc::Rc;

use super::js::{AudioData, VideoFrame};

/// Queues a `T` for the engine; `false` once the engine has stopped.
pub type Report<T> = Rc<dyn Fn(T) -> bool>;

/// A `Report<T>` through a `Report<U>`, wrapping each `T` with `wrap`.
pub fn map<T: 'static, U: 'static>(report: &Report<U>, wrap: fn(T) -> U) -> Report<T> {
    let report = report.clone();
    Rc::new(move |t| report(wrap(t)))
}

/// A captured video frame; closed when dropped, handled or not (a queued frame holds
/// capture memory until then).
pub struct Frame(pub VideoFrame);

impl Drop for Frame {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Captured audio samples; closed when dropped, like [`Frame`].
pub struct Samples(pub AudioData);

impl Drop for Samples {
    fn drop(&mut self) {
        self.0.close();
    }
}
