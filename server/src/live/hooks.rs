//! Test hooks for WS-FLV push, on only when the server runs with `test_hooks`
//! (`ONAIR_TEST_HOOKS=1`; for tests, never in production). They let a browser test give the
//! studio a bad network without touching the machine's:
//!
//! - `&throttle_kbps=N[&throttle_secs=S]`: read the socket at no more than N kbit/s (for S
//!   seconds), so the studio's uplink queue fills up;
//! - `&drop_after_secs=S`: drop the connection after S seconds without a close frame, like a
//!   lost network, so the studio reconnects.
//!
//! With the hooks off (the default) the parameters are ignored.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, Default)]
pub struct TestHooks {
    pub throttle: Option<Throttle>,
    drop_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    kbps: u32,
    until: Option<Instant>,
}

fn deadline(secs: Option<f64>) -> Option<Instant> {
    secs.and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(|d| Instant::now() + d)
}

impl TestHooks {
    pub fn from_query(
        enabled: bool,
        throttle_kbps: Option<u32>,
        throttle_secs: Option<f64>,
        drop_after_secs: Option<f64>,
    ) -> Self {
        if !enabled {
            return Self::default();
        }
        Self {
            throttle: throttle_kbps.filter(|k| *k > 0).map(|kbps| Throttle {
                kbps,
                until: deadline(throttle_secs),
            }),
            drop_at: deadline(drop_after_secs),
        }
    }

    /// Sleeps as long as `bytes` take at the throttled rate (not at all when not throttled).
    pub async fn pace(&self, bytes: usize) {
        let Some(t) = self.throttle else {
            return;
        };
        if t.until.is_some_and(|until| Instant::now() >= until) {
            return;
        }
        let secs = bytes as f64 * 8.0 / (f64::from(t.kbps) * 1000.0);
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }

    /// How long to wait for the next message: the idle timeout, or less if a drop is due.
    pub fn wait(&self, idle: Duration) -> Duration {
        self.drop_at.map_or(idle, |t| {
            idle.min(t.saturating_duration_since(Instant::now()))
        })
    }

    pub fn drop_due(&self) -> bool {
        self.drop_at.is_some_and(|t| Instant::now() >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_enabled() {
        let h = TestHooks::from_query(false, Some(100), None, Some(0.0));
        assert!(h.throttle.is_none());
        assert!(!h.drop_due());
        assert_eq!(h.wait(Duration::from_secs(20)), Duration::from_secs(20));
        let h = TestHooks::from_query(true, Some(100), Some(5.0), Some(0.0));
        assert!(h.throttle.is_some());
        assert!(h.drop_due());
        assert_eq!(h.wait(Duration::from_secs(20)), Duration::ZERO);
    }
}
