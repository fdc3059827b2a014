//! The player's numbers: shown in the stats overlay and published as `window.onairStats`,
//! which the browser tests and the latency benchmark read.

use std::collections::VecDeque;

use serde::Serialize;

/// One snapshot (camelCase in JavaScript).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub state: String,
    pub protocol: String,
    pub codecs: String,
    /// Seconds buffered ahead of the play head (the latency the player controls).
    pub latency: f64,
    pub buffer: f64,
    /// Target latency, seconds.
    pub target: f64,
    /// Capture-to-display latency of the frame on screen (ms), when the stream is stamped.
    pub g2g_ms: Option<f64>,
    pub bitrate_kbps: f64,
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    pub total_frames: u32,
    pub dropped_frames: u32,
    pub current_time: f64,
    pub rate: f64,
    pub reconnects: u32,
    pub queued_bytes: u32,
    pub muted: bool,
}

/// Bitrate and frame rate over the last ~2 s.
#[derive(Debug, Default)]
pub struct Meter {
    /// (time ms, bytes in, video frames) samples, oldest first.
    samples: VecDeque<(f64, u64, u64)>,
}

impl Meter {
    pub fn sample(&mut self, at_ms: f64, bytes: u64, frames: u64) {
        // Counters restart with each connection; a restart clears the window.
        if self
            .samples
            .back()
            .is_some_and(|&(_, b, f)| b > bytes || f > frames)
        {
            self.samples.clear();
        }
        self.samples.push_back((at_ms, bytes, frames));
        while self.samples.len() > 2 && at_ms - self.samples[0].0 > 2_000.0 {
            self.samples.pop_front();
        }
    }

    fn delta(&self) -> Option<(f64, u64, u64)> {
        let (&(t0, b0, f0), &(t1, b1, f1)) = (self.samples.front()?, self.samples.back()?);
        (t1 > t0).then(|| ((t1 - t0) / 1000.0, b1 - b0, f1 - f0))
    }

    pub fn bitrate_kbps(&self) -> f64 {
        self.delta()
            .map_or(0.0, |(s, b, _)| b as f64 * 8.0 / 1000.0 / s)
    }

    pub fn fps(&self) -> f64 {
        self.delta().map_or(0.0, |(s, _, f)| f as f64 / s)
    }
}

/// Sets `window.onairStats`.
pub fn publish(stats: &Stats) {
    let (Some(window), Ok(json)) = (web_sys::window(), serde_json::to_string(stats)) else {
        return;
    };
    if let Ok(value) = js_sys::JSON::parse(&json) {
        let _ = js_sys::Reflect::set(&window, &"onairStats".into(), &value);
    }
}

/// Removes `window.onairStats` (the player is gone).
pub fn clear() {
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::delete_property(&window, &"onairStats".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_rates_over_its_window() {
        let mut m = Meter::default();
        assert_eq!(m.bitrate_kbps(), 0.0);
        m.sample(0.0, 0, 0);
        m.sample(1_000.0, 250_000, 30);
        assert_eq!(m.bitrate_kbps(), 2_000.0);
        assert_eq!(m.fps(), 30.0);
        m.sample(1_500.0, 10, 1);
        assert_eq!(m.bitrate_kbps(), 0.0);
    }
}
