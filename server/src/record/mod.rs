//! Recordings: every stream written to `DATA/recordings/ROOM/YYYYmmdd-HHMMSS.flv` as it
//! arrives, and turned into `….mp4` (`moov` before `mdat`) when it ends.
//!
//! One recorder task per stream, started by a hub hook like the HLS packager and fed by an
//! internal (non-viewer) subscription. A recorder that fails (disk full, permissions) logs
//! and stops; the stream and its viewers never notice, because the hub drops nothing for a
//! subscriber that goes away.
//!
//! - [`flv`]: the live FLV writer (buffered, flushed at least every second);
//! - [`mp4`]: FLV file → progressive MP4 with [`onair_shared::mp4`], on a blocking thread;
//! - [`recover`]: at start-up, the MP4s a crash left unbuilt;
//! - [`routes`]: `GET /api/recordings` and `/vod/ROOM/FILE` (Range requests).

pub mod flv;
pub mod mp4;
pub mod recover;
mod routes;

pub use routes::routes;

use crate::utc::civil_from_days;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::valid_name;
use crate::config::RecordConfig;
use crate::hub::{Hub, Subscriber};
use crate::shutdown::{Shutdown, Tracked};

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unreadable FLV: {reason}")]
    Flv { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Mp4 {
        path: PathBuf,
        source: onair_shared::mp4::Mp4Error,
    },
    #[error("{0}: nothing recordable (no H.264/AAC/Opus samples)")]
    Empty(PathBuf),
    #[error("{0} changed while it was being converted")]
    Changed(PathBuf),
}

impl RecordError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The recording service: where recordings go and which formats are kept.
pub struct Recorder {
    config: RecordConfig,
    root: PathBuf,
    shutdown: Arc<Shutdown>,
}

/// `DATA/recordings`.
pub fn recordings_dir(data: &Path) -> PathBuf {
    data.join("recordings")
}

impl Recorder {
    /// Hooks a recorder into `hub` unless both formats are switched off. A shutdown waits
    /// for each recording's FLV to be flushed and its MP4 built.
    pub fn start(
        hub: &Arc<Hub>,
        data: &Path,
        config: RecordConfig,
        shutdown: &Arc<Shutdown>,
    ) -> Option<Arc<Self>> {
        if !config.flv && !config.mp4 {
            return None;
        }
        let recorder = Arc::new(Self {
            config,
            root: recordings_dir(data),
            shutdown: shutdown.clone(),
        });
        let hooked = recorder.clone();
        hub.on_new_stream(move |sub| hooked.spawn(sub));
        Some(recorder)
    }

    fn spawn(self: &Arc<Self>, sub: Subscriber) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("recording: no runtime to record {} on", sub.stream.key);
            return;
        };
        let Some(room) = room_dir_name(&sub.stream.key) else {
            tracing::warn!(stream = %sub.stream.key, "recording: stream name not usable as a directory");
            return;
        };
        // Tracked from the hook on, so a shutdown right after this still waits for it.
        let tracked = self.shutdown.track("recording", sub.stream.key.clone());
        runtime.spawn(self.clone().record(self.root.join(room), sub, tracked));
    }

    async fn record(self: Arc<Self>, dir: PathBuf, sub: Subscriber, _tracked: Tracked) {
        let key = sub.stream.key.clone();
        let stamp = file_stamp(SystemTime::now());
        // Without the FLV format the FLV is still the MP4's source, under a name the
        // listing ignores, and removed afterwards.
        let ext = if self.config.flv { "flv" } else { "flv.tmp" };
        let written = flv::record(&dir, &stamp, ext, sub).await;
        let path = match written {
            Ok(path) => path,
            Err(flv::Stopped { path, error }) => {
                tracing::warn!(stream = %key, "recording stopped: {error}");
                match path {
                    Some(path) => path,
                    None => return,
                }
            }
        };
        tracing::info!(stream = %key, file = %path.display(), "FLV recording finished");
        if self.config.mp4 {
            let mp4_path = path.with_file_name(format!("{}.mp4", stem(&path)));
            let source = path.clone();
            let converted =
                tokio::task::spawn_blocking(move || mp4::convert(&source, &mp4_path)).await;
            match converted {
                Ok(Ok(summary)) => tracing::info!(
                    stream = %key,
                    samples = summary.samples,
                    duration_s = summary.duration_s,
                    "MP4 recording written"
                ),
                Ok(Err(e)) => tracing::warn!(stream = %key, "MP4 recording failed: {e}"),
                Err(e) => tracing::warn!(stream = %key, "MP4 conversion task failed: {e}"),
            }
        }
        if !self.config.flv
            && let Err(e) = tokio::fs::remove_file(&path).await
        {
            tracing::warn!(file = %path.display(), "cannot remove temporary FLV: {e}");
        }
    }
}

/// The file name up to the first dot (`20260101-120000` of `20260101-120000.flv.tmp`).
fn stem(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("rec");
    name.split('.').next().unwrap_or(name).to_string()
}

/// The directory of a stream's recordings: the room for `live/ROOM`, `APP_ROOM` for other
/// apps; `None` for names that are not safe path components.
pub fn room_dir_name(key: &str) -> Option<String> {
    let (app, room) = key.split_once('/')?;
    let name = if app == "live" {
        room.to_string()
    } else {
        format!("{app}_{room}")
    };
    valid_name(&name).then_some(name)
}

/// A recording's file name: `ROOM`-free, sortable and strictly validated when served.
pub fn valid_file_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    matches!(ext, "flv" | "mp4")
        && (1..=32).contains(&stem.len())
        && stem.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// `YYYYmmdd-HHMMSS` in UTC.
pub fn file_stamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `YYYYmmdd-HHMMSS…` → `YYYY-mm-ddTHH:MM:SSZ`, for the listing.
pub fn started_at(stem: &str) -> Option<String> {
    let b = stem.as_bytes();
    if b.len() < 15 || b[8] != b'-' || !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    let s = |r: std::ops::Range<usize>| &stem[r];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        s(0..4),
        s(4..6),
        s(6..8),
        s(9..11),
        s(11..13),
        s(13..15)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_and_names() {
        let t = UNIX_EPOCH + Duration::from_secs(1_763_683_200 + 3_723); // 2025-11-21 01:02:03
        assert_eq!(file_stamp(t), "20251121-010203");
        assert_eq!(
            started_at("20251121-010203-2").unwrap(),
            "2025-11-21T01:02:03Z"
        );
        assert_eq!(
            file_stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229-000000"
        );
        assert!(valid_file_name("20251121-010203.mp4"));
        assert!(valid_file_name("20251121-010203-2.flv"));
        for bad in [
            "../x.mp4",
            "a.mp4",
            "20251121.flv.tmp",
            ".mp4",
            "x",
            "1.mp4/",
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
        assert_eq!(room_dir_name("live/demo").unwrap(), "demo");
        assert_eq!(room_dir_name("app/demo").unwrap(), "app_demo");
        assert!(room_dir_name("live/..").is_none());
    }

    #[test]
    fn record_table_defaults_on_and_switches_off() {
        let c: crate::Config = toml::from_str("").unwrap();
        assert!(c.record.flv && c.record.mp4);
        let c: crate::Config = toml::from_str("[record]\nflv = false\n").unwrap();
        assert!(!c.record.flv && c.record.mp4);
        assert!(toml::from_str::<crate::Config>("[record]\nwebm = true\n").is_err());
    }
}
