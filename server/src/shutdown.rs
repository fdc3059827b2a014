//! Stopping without losing anything: one signal every task hears, and a tracker of the
//! work the server must wait for before it exits (recordings, playlists, connections).
//!
//! Like mini-redis: [`Shutdown::trigger`] flips a `watch` that every long-lived task
//! selects on; each piece of work worth waiting for holds a [`Tracked`] guard with a kind
//! and a name, so [`Shutdown::drain`] can say what it waits for, and what it abandons when
//! the drain time runs out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How often the drain repeats what it is waiting for when nothing changes.
const LOG_AGAIN: Duration = Duration::from_secs(5);
/// Pause after a change before looking again, so a burst of finishing viewers makes one
/// log line, not one each.
const COALESCE: Duration = Duration::from_millis(200);
/// Names listed per kind in a log line; the rest are counted.
const NAMES_SHOWN: usize = 8;

/// The shutdown signal and the tracked work.
pub struct Shutdown {
    signal: watch::Sender<bool>,
    tasks: watch::Sender<Tasks>,
}

#[derive(Default)]
struct Tasks {
    next_id: u64,
    live: BTreeMap<u64, (&'static str, String)>,
}

/// Work the drain waits for; it is done when the guard drops.
#[must_use = "the work counts as done as soon as the guard is dropped"]
pub struct Tracked {
    shutdown: Arc<Shutdown>,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let id = self.id;
        self.shutdown.tasks.send_modify(|t| {
            t.live.remove(&id);
        });
    }
}

/// What was still running when the drain time ran out.
#[derive(Debug, thiserror::Error)]
#[error("drain time ({limit:?}) ran out; abandoned {waiting}")]
pub struct Abandoned {
    pub limit: Duration,
    pub waiting: String,
}

impl Shutdown {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            signal: watch::Sender::new(false),
            tasks: watch::Sender::new(Tasks::default()),
        })
    }

    /// Tells every task to finish up. Idempotent.
    pub fn trigger(&self) {
        self.signal.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves once the shutdown is triggered (at once if it already was); cancel-safe.
    pub async fn triggered(&self) {
        Self::wait(self.signal.subscribe()).await;
    }

    /// The same as [`Self::triggered`], owning what it needs (for `'static` futures).
    pub fn triggered_owned(&self) -> impl Future<Output = ()> + Send + 'static {
        Self::wait(self.signal.subscribe())
    }

    async fn wait(mut rx: watch::Receiver<bool>) {
        // An error means the sender is gone: nobody can trigger any more, so never resolve.
        if rx.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Registers work the drain must wait for, e.g. `track("recording", "live/a")`.
    pub fn track(self: &Arc<Self>, kind: &'static str, name: impl Into<String>) -> Tracked {
        let name = name.into();
        let mut id = 0;
        self.tasks.send_modify(|t| {
            id = t.next_id;
            t.next_id += 1;
            t.live.insert(id, (kind, name));
        });
        Tracked {
            shutdown: self.clone(),
            id,
        }
    }

    /// What is being waited for, e.g. `2 recordings: live/a, live/b`; empty when nothing.
    pub fn waiting(&self) -> String {
        describe(&self.tasks.borrow())
    }

    /// Waits until no tracked work is left, at most `limit`, logging what it waits for.
    pub async fn drain(&self, limit: Duration) -> Result<(), Abandoned> {
        let deadline = Instant::now() + limit;
        let mut rx = self.tasks.subscribe();
        let mut logged: Option<(String, Instant)> = None;
        loop {
            let waiting = describe(&rx.borrow_and_update());
            if waiting.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Abandoned { limit, waiting });
            }
            let due = logged
                .as_ref()
                .is_none_or(|(last, at)| *last != waiting || now >= *at + LOG_AGAIN);
            if due {
                let left = deadline - now;
                tracing::info!("waiting for {waiting} ({:.0} s left)", left.as_secs_f64());
                logged = Some((waiting, now));
            }
            let wake = deadline.min(now + LOG_AGAIN);
            if tokio::time::timeout_at(wake, rx.changed()).await.is_ok() {
                tokio::time::sleep_until(deadline.min(Instant::now() + COALESCE)).await;
            }
        }
    }
}

/// `2 recordings: live/a, live/b; 1 connection: rtmp 127.0.0.1:50000`.
fn describe(tasks: &Tasks) -> String {
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (kind, name) in tasks.live.values() {
        by_kind.entry(kind).or_default().push(name);
    }
    let mut out = String::new();
    for (kind, names) in by_kind {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let plural = if names.len() == 1 { "" } else { "s" };
        let _ = write!(out, "{} {kind}{plural}: ", names.len());
        out.push_str(&names[..names.len().min(NAMES_SHOWN)].join(", "));
        if names.len() > NAMES_SHOWN {
            let _ = write!(out, " and {} more", names.len() - NAMES_SHOWN);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tracks_names_and_drains() {
        let s = Shutdown::new();
        assert!(!s.is_triggered());
        let a = s.track("recording", "live/a");
        let b = s.track("recording", "live/b");
        let c = s.track("connection", "rtmp 127.0.0.1:1");
        assert_eq!(
            s.waiting(),
            "1 connection: rtmp 127.0.0.1:1; 2 recordings: live/a, live/b"
        );
        drop(c);
        let err = s.drain(Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.waiting, "2 recordings: live/a, live/b");
        let done = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop((a, b));
        });
        s.drain(Duration::from_secs(5)).await.unwrap();
        done.await.unwrap();
        assert_eq!(s.waiting(), "");
    }

    #[tokio::test]
    async fn every_waiter_hears_the_trigger() {
        let s = Shutdown::new();
        let late = s.triggered_owned();
        let early = tokio::spawn({
            let s = s.clone();
            async move { s.triggered().await }
        });
        s.trigger();
        early.await.unwrap();
        late.await;
        // Already triggered: resolves at once.
        s.triggered().await;
        assert!(s.is_triggered());
    }

    #[test]
    fn long_lists_are_cut() {
        let s = Shutdown::new();
        let _guards: Vec<_> = (0..10)
            .map(|i| s.track("viewer", format!("v{i}")))
            .collect();
        assert_eq!(
            s.waiting(),
            "10 viewers: v0, v1, v2, v3, v4, v5, v6, v7 and 2 more"
        );
    }
}
