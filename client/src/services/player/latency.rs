//! Live-latency control: pure decisions from buffer positions, so they are testable natively.
//!
//! "Latency" is glass-to-glass when the stream carries capture stamps (`onFI`) and the
//! buffered time ahead of the play head otherwise. The target is a ceiling: above it the
//! controller plays faster (never more than [`MAX_RATE`]) until latency is [`HYSTERESIS`]
//! below it, so it settles between the two instead of hovering around the target; it
//! jumps to the live edge beyond a maximum, and never lets the buffer ahead drop below
//! [`MIN_BUFFER`] chasing a target the pipeline before the player (capture, encoding,
//! network) makes impossible.

/// Fastest catch-up rate; speech is still intelligible.
pub const MAX_RATE: f64 = 1.5;
/// Buffer ahead of the play head that the controller never eats into (s): about ten
/// frames, enough for network jitter on a good link.
pub const MIN_BUFFER: f64 = 0.3;
/// Catching up goes on until latency is this far below the target (s).
pub const HYSTERESIS: f64 = 0.2;
/// Beyond the target by this much, jump instead of speeding up (s).
pub const JUMP_AFTER: f64 = 2.0;
/// Keep at most this much behind the play head (s); older media is removed.
pub const KEEP_BEHIND: f64 = 30.0;

/// What the controller sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// `video.currentTime`.
    pub current: f64,
    /// End of the buffered range holding the play head (or the last range).
    pub buffered_end: f64,
    /// Start of the first buffered range.
    pub buffered_start: f64,
    /// Measured glass-to-glass latency (s), if the stream carries capture stamps.
    pub glass_to_glass: Option<f64>,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Set `playbackRate`.
    Rate(f64),
    /// Set `currentTime` (jump to the live edge, or over a gap).
    Seek(f64),
}

/// The latency and buffer targets, and whether it is catching up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Controller {
    /// Target latency (s).
    pub target: f64,
    catching_up: bool,
}

impl Default for Controller {
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl Controller {
    /// A controller for `target` seconds of latency (clamped to something playable).
    pub fn new(target: f64) -> Self {
        let target = if target.is_finite() { target } else { 1.0 };
        Self {
            target: target.clamp(MIN_BUFFER + 0.1, 30.0),
            catching_up: false,
        }
    }

    /// The buffer ahead of the play head that gives the target latency: the target minus
    /// what the pipeline before the buffer costs, when that is known.
    pub fn buffer_goal(&self, p: &Position) -> f64 {
        let ahead = p.buffered_end - p.current;
        let upstream = p
            .glass_to_glass
            .filter(|g| g.is_finite() && *g > 0.0 && *g < 60.0)
            .map_or(0.0, |g| (g - ahead).max(0.0));
        (self.target - upstream).clamp(MIN_BUFFER, self.target)
    }

    /// The action for this position (applied every ~250 ms).
    pub fn decide(&mut self, p: &Position) -> Action {
        let ahead = p.buffered_end - p.current;
        let goal = self.buffer_goal(p);
        if ahead > goal + JUMP_AFTER || p.current < p.buffered_start {
            self.catching_up = false;
            return Action::Seek((p.buffered_end - goal).max(p.buffered_start));
        }
        let low = (goal - HYSTERESIS).max(MIN_BUFFER);
        if ahead > goal {
            self.catching_up = true;
        } else if ahead <= low {
            self.catching_up = false;
        }
        if self.catching_up {
            // Proportional to how far above the bottom of the band: 0.5 s plays at 1.25×.
            Action::Rate((1.0 + (ahead - low) * 0.5).clamp(1.05, MAX_RATE))
        } else {
            Action::Rate(1.0)
        }
    }

    /// The range to remove from the `SourceBuffer`, if more than [`KEEP_BEHIND`] is kept
    /// behind the play head (removes in ~10 s steps, not every tick).
    pub fn trim(&self, p: &Position) -> Option<(f64, f64)> {
        let behind = p.current - p.buffered_start;
        (behind > KEEP_BEHIND + 10.0).then_some((p.buffered_start, p.current - KEEP_BEHIND))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(current: f64, end: f64) -> Position {
        Position {
            current,
            buffered_end: end,
            buffered_start: 0.0,
            glass_to_glass: None,
        }
    }

    #[test]
    fn below_the_target_plays_at_normal_speed() {
        let mut c = Controller::default();
        assert_eq!(c.decide(&at(10.0, 11.0)), Action::Rate(1.0));
        assert_eq!(c.decide(&at(10.0, 10.4)), Action::Rate(1.0));
    }

    #[test]
    fn above_catches_up_into_the_band_then_by_jump() {
        let mut c = Controller::default();
        assert_eq!(c.decide(&at(10.0, 11.6)), Action::Rate(1.4));
        assert_eq!(c.decide(&at(10.0, 12.9)), Action::Rate(MAX_RATE));
        // Still catching up just below the target, until the bottom of the band.
        assert!(matches!(c.decide(&at(10.0, 10.9)), Action::Rate(r) if r > 1.0));
        assert_eq!(c.decide(&at(10.0, 10.75)), Action::Rate(1.0));
        assert_eq!(c.decide(&at(10.0, 10.9)), Action::Rate(1.0));
        assert_eq!(c.decide(&at(10.0, 13.5)), Action::Seek(12.5));
    }

    #[test]
    fn outside_the_buffer_seeks_into_it() {
        let mut c = Controller::default();
        let p = Position {
            current: 1.0,
            buffered_start: 4.0,
            buffered_end: 4.5,
            glass_to_glass: None,
        };
        assert_eq!(c.decide(&p), Action::Seek(4.0));
    }

    #[test]
    fn measured_latency_shrinks_the_buffer_goal_but_not_below_the_floor() {
        let mut c = Controller::default();
        // 0.3 s of the 1.3 s glass-to-glass is upstream: keep 0.7 s of buffer.
        let p = Position {
            glass_to_glass: Some(1.3),
            ..at(10.0, 11.0)
        };
        assert!((c.buffer_goal(&p) - 0.7).abs() < 1e-9);
        assert!(matches!(c.decide(&p), Action::Rate(r) if r > 1.0));
        // A (skewed) 5 s upstream: the buffer floor wins, no chasing to zero.
        let p = Position {
            glass_to_glass: Some(6.0),
            ..at(10.0, 11.0)
        };
        assert_eq!(c.buffer_goal(&p), MIN_BUFFER);
        assert_eq!(Controller::new(f64::NAN).target, 1.0);
        assert_eq!(Controller::new(0.0).target, MIN_BUFFER + 0.1);
    }

    #[test]
    fn trims_in_steps() {
        let c = Controller::default();
        assert_eq!(c.trim(&at(35.0, 36.0)), None);
        assert_eq!(c.trim(&at(41.0, 42.0)), Some((0.0, 11.0)));
    }
}
