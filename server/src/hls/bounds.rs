//! Byte and wall-clock bounds on the part and segment in progress, and the one log line
//! that names a publisher whose timestamps stopped advancing or ran backwards.
//!
//! The packager cuts on media time, so a clock that freezes or steps back would keep one
//! part and one segment open forever, growing with every frame. These rules cut them
//! anyway; the fMP4 timeline already re-times frozen or backwards samples (it snaps them to
//! the expected frame duration), so a wall-clock cut yields playable, bounded media. Sans-IO:
//! the caller passes the time in.

use std::time::{Duration, SystemTime};

/// A part with this many media bytes is cut whatever its duration.
pub const MAX_PART_BYTES: usize = 1 << 20;
/// A segment with this many media bytes is cut whatever its duration (64 Mbit/s at 1 s).
pub const MAX_SEGMENT_BYTES: usize = 8 << 20;
/// Once a stream's clock misbehaved, its parts and segments stay this small...
pub const BAD_CLOCK_PART_BYTES: usize = 256 << 10;
pub const BAD_CLOCK_SEGMENT_BYTES: usize = 2 << 20;
/// ...and its window keeps at most this many bytes of complete segments (at least one).
pub const BAD_CLOCK_WINDOW_BYTES: usize = 8 << 20;
/// A part or segment open for this many of its targets in wall time is cut.
pub const WALL_TARGETS: u32 = 3;

/// Where the part or segment in progress stands.
#[derive(Debug, Clone, Copy)]
pub struct Open {
    pub opened: SystemTime,
    pub bytes: usize,
    /// Media time it started at and the newest lead time in it (ms).
    pub start_ms: i64,
    pub newest_ms: i64,
}

impl Open {
    pub fn new(now: SystemTime, start_ms: i64) -> Self {
        Self {
            opened: now,
            bytes: 0,
            start_ms,
            newest_ms: start_ms,
        }
    }
}

/// Why a part or segment was cut early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Media time did not advance at all while wall time or bytes ran out.
    Frozen,
    /// Media time advanced, but less than the target in [`WALL_TARGETS`] targets of wall
    /// time: a publisher that stalled (or a crawling clock). Cut, not flagged.
    Stalled,
    /// Media time went back before the start of the part or segment.
    Backwards,
    /// Too many bytes while media time advanced: a very high bitrate, not a bad clock.
    Bytes,
}

impl Cause {
    pub fn bad_clock(self) -> bool {
        matches!(self, Cause::Frozen | Cause::Backwards)
    }
}

/// Whether `open` must be cut now given its `target_ms` and byte cap: open longer than
/// [`WALL_TARGETS`] targets of wall time without reaching the target in media time, or
/// over `max_bytes`.
pub fn check(open: &Open, target_ms: i64, max_bytes: usize, now: SystemTime) -> Option<Cause> {
    let media = open.newest_ms - open.start_ms;
    let wall = now.duration_since(open.opened).unwrap_or(Duration::ZERO);
    let limit = Duration::from_millis(u64::try_from(target_ms).unwrap_or(0)) * WALL_TARGETS;
    let stalled = wall > limit && media < target_ms;
    if !stalled && open.bytes < max_bytes {
        return None;
    }
    Some(match media {
        ..0 => Cause::Backwards,
        0 => Cause::Frozen,
        _ if stalled => Cause::Stalled,
        _ => Cause::Bytes,
    })
}

/// The log line for a cut (a bad clock is logged once at warn level, the rest at debug).
pub fn describe(name: &str, cause: Cause, open: &Open, now: SystemTime) -> String {
    let wall = now.duration_since(open.opened).unwrap_or(Duration::ZERO);
    let s = |ms: i64| ms as f64 / 1000.0;
    match cause {
        Cause::Frozen => format!(
            "{name}: timestamps frozen at {:.3} s for {:.1} s; HLS cut by wall clock and bytes",
            s(open.newest_ms),
            wall.as_secs_f64()
        ),
        Cause::Backwards => format!(
            "{name}: timestamps running backwards ({:.3} s after {:.3} s); HLS cut by wall clock and bytes",
            s(open.newest_ms),
            s(open.start_ms)
        ),
        Cause::Stalled | Cause::Bytes => format!(
            "{name}: {} bytes and {:.1} s of wall time in {} ms of media; HLS cut early",
            open.bytes,
            wall.as_secs_f64(),
            open.newest_ms - open.start_ms
        ),
    }
}
