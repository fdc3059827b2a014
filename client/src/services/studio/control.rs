//! Back-pressure and keyframe decisions, as pure Rust so they are unit-tested natively.
//!
//! The only signal a browser gives about a slow uplink is the WebSocket's `bufferedAmount`
//! (bytes handed to `send` and not yet written to the network). Video is dropped *before*
//! encoding while it is high, so nothing already encoded is thrown away and the reference
//! chain stays valid; once it drains a keyframe is forced anyway, so viewers who skipped
//! ahead get a clean picture. The bitrate is halved on congestion and raised back step by
//! step once the link has stayed clear for a while.

/// Above this many encoder frames in flight, new frames are skipped (the encoder is slower
/// than the camera; queuing more only adds latency and memory).
pub const MAX_ENCODE_QUEUE: u32 = 3;
/// Whatever the bitrate, above this many buffered bytes audio is dropped too, so the socket's
/// queue (and the browser's memory) has a hard bound.
pub const HARD_CAP_BYTES: u32 = 2_000_000;
/// Floor for the reduced bitrate.
pub const MIN_BITRATE: u32 = 250_000;
/// How long the link must stay clear before the bitrate goes up a step.
const RECOVER_AFTER_MS: f64 = 3_000.0;
/// Keyframe interval.
pub const KEYFRAME_INTERVAL_MS: f64 = 2_000.0;

/// What to do with one captured video frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Encode {
        keyframe: bool,
    },
    /// The socket is congested: skip, and force a keyframe once it drains.
    DropCongested,
    /// The encoder is behind: skip this frame.
    DropEncoderBusy,
    /// The socket is not open (connecting, reconnecting): skip.
    DropOffline,
}

impl Verdict {
    pub fn dropped(self) -> bool {
        !matches!(self, Verdict::Encode { .. })
    }
}

/// The controller; `now_ms` is any monotonic clock in ms (the page's `performance.now()`).
#[derive(Debug, Clone)]
pub struct Control {
    /// The bitrate the broadcaster chose.
    pub target_bps: u32,
    /// The bitrate the encoder is configured with now.
    pub current_bps: u32,
    congested: bool,
    force_keyframe: bool,
    last_keyframe_ms: Option<f64>,
    clear_since_ms: Option<f64>,
}

impl Control {
    pub fn new(target_bps: u32) -> Self {
        Self {
            target_bps,
            current_bps: target_bps,
            congested: false,
            force_keyframe: true,
            last_keyframe_ms: None,
            clear_since_ms: None,
        }
    }

    /// Buffered bytes above which video is dropped: one second of the chosen bitrate.
    pub fn high_water(&self) -> u32 {
        (self.target_bps / 8).clamp(64_000, HARD_CAP_BYTES)
    }

    /// Buffered bytes under which a congested link counts as drained.
    fn low_water(&self) -> u32 {
        self.high_water() / 4
    }

    pub fn congested(&self) -> bool {
        self.congested
    }

    /// The next frame will be a keyframe (after a reconnect, or a new encoder config).
    pub fn request_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// Decides about one frame. Returns the verdict and, when it changes, the new bitrate the
    /// encoder should be reconfigured with.
    pub fn on_frame(
        &mut self,
        now_ms: f64,
        open: bool,
        buffered: u32,
        encode_queue: u32,
    ) -> (Verdict, Option<u32>) {
        if !open {
            self.force_keyframe = true;
            return (Verdict::DropOffline, None);
        }
        let mut rate = None;
        if self.congested {
            if buffered > self.low_water() {
                return (Verdict::DropCongested, None);
            }
            self.congested = false;
            self.force_keyframe = true;
            self.clear_since_ms = Some(now_ms);
        } else if buffered > self.high_water() {
            self.congested = true;
            self.clear_since_ms = None;
            let lower = (self.current_bps / 2).max(MIN_BITRATE);
            if lower != self.current_bps {
                self.current_bps = lower;
                rate = Some(lower);
            }
            return (Verdict::DropCongested, rate);
        }
        // Clear: step back up towards the chosen bitrate.
        let clear_since = *self.clear_since_ms.get_or_insert(now_ms);
        if self.current_bps < self.target_bps && now_ms - clear_since >= RECOVER_AFTER_MS {
            self.current_bps = (self.current_bps.saturating_mul(3) / 2).min(self.target_bps);
            self.clear_since_ms = Some(now_ms);
            rate = Some(self.current_bps);
        }
        if encode_queue > MAX_ENCODE_QUEUE {
            return (Verdict::DropEncoderBusy, rate);
        }
        let due = self
            .last_keyframe_ms
            .is_none_or(|last| now_ms - last >= KEYFRAME_INTERVAL_MS);
        let keyframe = self.force_keyframe || due;
        if keyframe {
            self.force_keyframe = false;
            self.last_keyframe_ms = Some(now_ms);
        }
        (Verdict::Encode { keyframe }, rate)
    }

    /// Whether audio may be sent with this much buffered.
    pub fn audio_ok(&self, open: bool, buffered: u32) -> bool {
        open && buffered <= HARD_CAP_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_every_two_seconds() {
        let mut c = Control::new(2_500_000);
        let keys: Vec<bool> = (0..130)
            .map(|i| match c.on_frame(f64::from(i) * 33.4, true, 0, 0).0 {
                Verdict::Encode { keyframe } => keyframe,
                other => panic!("{other:?}"),
            })
            .collect();
        let at: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at, [0, 60, 120]);
    }

    #[test]
    fn congestion_drops_lowers_bitrate_then_recovers() {
        let mut c = Control::new(2_500_000);
        c.on_frame(0.0, true, 0, 0);
        let (v, rate) = c.on_frame(33.0, true, 400_000, 0);
        assert_eq!(v, Verdict::DropCongested);
        assert_eq!(rate, Some(1_250_000));
        // Still above low water: keep dropping, no further change.
        assert_eq!(
            c.on_frame(66.0, true, 200_000, 0),
            (Verdict::DropCongested, None)
        );
        // Drained: a keyframe at once.
        assert_eq!(
            c.on_frame(99.0, true, 10_000, 0),
            (Verdict::Encode { keyframe: true }, None)
        );
        assert_eq!(
            c.on_frame(132.0, true, 0, 0),
            (Verdict::Encode { keyframe: false }, None)
        );
        // Clear for 3 s: one step up (the keyframe here is the 2 s schedule's).
        let (v, rate) = c.on_frame(3_200.0, true, 0, 0);
        assert_eq!(rate, Some(1_875_000));
        assert_eq!(v, Verdict::Encode { keyframe: true });
        assert_eq!(
            c.on_frame(3_233.0, true, 0, 0),
            (Verdict::Encode { keyframe: false }, None)
        );
        let (_, rate) = c.on_frame(6_300.0, true, 0, 0);
        assert_eq!(rate, Some(2_500_000));
        assert_eq!(c.current_bps, c.target_bps);
    }

    #[test]
    fn offline_and_busy_encoder_drop() {
        let mut c = Control::new(2_500_000);
        assert_eq!(c.on_frame(0.0, false, 0, 0).0, Verdict::DropOffline);
        assert_eq!(c.on_frame(1.0, true, 0, 9).0, Verdict::DropEncoderBusy);
        assert_eq!(
            c.on_frame(2.0, true, 0, 0).0,
            Verdict::Encode { keyframe: true }
        );
        assert!(c.audio_ok(true, HARD_CAP_BYTES));
        assert!(!c.audio_ok(true, HARD_CAP_BYTES + 1));
    }
}
