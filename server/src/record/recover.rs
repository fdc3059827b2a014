//! Start-up recovery of the recordings a crash (or a drain that ran out) left behind.
//!
//! Under `DATA/recordings/ROOM/`: a `.mp4.part` is an MP4 whose build was cut short, so it
//! is removed; an `.flv` without its `.mp4` gets one (when MP4 recording is on); an
//! `.flv.tmp` (the MP4's source when FLV recording is off) is converted, then removed.
//! The scan runs before the server serves, when nothing is being recorded, so every such
//! file is a leftover; the conversions run one at a time on a blocking thread in the
//! background, tracked by the shutdown like recordings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{mp4, recordings_dir, stem, valid_file_name};
use crate::config::RecordConfig;
use crate::shutdown::{Shutdown, Tracked};

/// One MP4 to build from an FLV a crash left.
#[derive(Debug, PartialEq)]
pub struct Job {
    pub flv: PathBuf,
    pub mp4: PathBuf,
    /// The FLV is a `.flv.tmp`: removed once its MP4 is written.
    pub remove_flv: bool,
}

/// Scans the recordings now, removes unfinished MP4s, and converts the rest in a tracked
/// background task.
pub fn start(data: &Path, config: &RecordConfig, shutdown: &Arc<Shutdown>) {
    let jobs = scan(&recordings_dir(data), config.mp4);
    if jobs.is_empty() {
        return;
    }
    let tracked: Vec<Tracked> = jobs
        .iter()
        .map(|job| shutdown.track("recovery", display(&job.flv)))
        .collect();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        for (job, tracked) in jobs.into_iter().zip(tracked) {
            if shutdown.is_triggered() {
                // Still recoverable: the next start picks it up.
                tracing::info!(file = %job.flv.display(), "recovery postponed: shutting down");
                continue;
            }
            convert(job).await;
            drop(tracked);
        }
    });
}

/// Finds the leftovers under `root` (`root/ROOM/FILE`), removing `.mp4.part` files and
/// `.flv.tmp` files whose MP4 exists; returns the conversions to do, oldest first.
pub fn scan(root: &Path, mp4_on: bool) -> Vec<Job> {
    let mut jobs = Vec::new();
    let Ok(rooms) = std::fs::read_dir(root) else {
        return jobs;
    };
    for room in rooms.flatten() {
        let dir = room.path();
        if !dir.is_dir() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Only the MP4 writer makes `.mp4.part` files here, whatever their stem.
            if name.ends_with(".mp4.part") {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "recovery: removed unfinished MP4")
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), "recovery: cannot remove unfinished MP4: {e}")
                    }
                }
                continue;
            }
            let stem = stem(&path);
            // Only recordings' names: other FLVs in the directory are not ours to convert.
            if !valid_file_name(&format!("{stem}.flv")) {
                continue;
            }
            let mp4 = dir.join(format!("{stem}.mp4"));
            let tmp = name.ends_with(".flv.tmp");
            if tmp && mp4.exists() {
                // Converted; only its removal was cut short.
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "recovery: removed converted temporary FLV")
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), "recovery: cannot remove temporary FLV: {e}")
                    }
                }
            } else if tmp || (name.ends_with(".flv") && mp4_on && !mp4.exists()) {
                tracing::info!(file = %path.display(), mp4 = %mp4.display(), "recovery: FLV without its MP4; converting");
                jobs.push(Job {
                    flv: path,
                    mp4,
                    remove_flv: tmp,
                });
            }
        }
    }
    jobs.sort_by(|a, b| a.flv.cmp(&b.flv));
    jobs
}

/// Builds one MP4; a failure is logged and leaves the FLV where it is.
async fn convert(job: Job) {
    let (flv, mp4_path) = (job.flv.clone(), job.mp4.clone());
    let converted = tokio::task::spawn_blocking(move || mp4::convert(&flv, &mp4_path)).await;
    match converted {
        Ok(Ok(summary)) => {
            tracing::info!(
                file = %job.mp4.display(),
                samples = summary.samples,
                duration_s = summary.duration_s,
                "recovery: MP4 written"
            );
            if job.remove_flv
                && let Err(e) = tokio::fs::remove_file(&job.flv).await
            {
                tracing::warn!(file = %job.flv.display(), "recovery: cannot remove temporary FLV: {e}");
            }
        }
        Ok(Err(e)) => tracing::warn!(file = %job.flv.display(), "recovery failed: {e}"),
        Err(e) => tracing::warn!(file = %job.flv.display(), "recovery task failed: {e}"),
    }
}

/// `ROOM/FILE`, for the drain's log.
fn display(path: &Path) -> String {
    let mut parts = path.iter().rev().take(2).collect::<Vec<_>>();
    parts.reverse();
    parts
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_leftovers_and_cleans_up() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        let room = root.join("demo");
        std::fs::create_dir_all(&room).unwrap();
        let touch = |name: &str| std::fs::write(room.join(name), b"x").unwrap();
        touch("20250101-000000.flv"); // converted already
        touch("20250101-000000.mp4");
        touch("20250101-000001.flv"); // crashed while recording
        touch("20250101-000001.mp4.part");
        touch("20250101-000002.flv.tmp"); // FLV off, crashed before its MP4
        touch("20250101-000003.flv.tmp"); // converted, not yet removed
        touch("20250101-000003.mp4");
        touch("x.mp4.part");
        touch("notes.flv"); // not ours
        std::fs::write(root.join("stray.flv"), b"x").unwrap();

        let jobs = scan(root, true);
        assert_eq!(
            jobs,
            vec![
                Job {
                    flv: room.join("20250101-000001.flv"),
                    mp4: room.join("20250101-000001.mp4"),
                    remove_flv: false,
                },
                Job {
                    flv: room.join("20250101-000002.flv.tmp"),
                    mp4: room.join("20250101-000002.mp4"),
                    remove_flv: true,
                },
            ]
        );
        assert!(!room.join("20250101-000001.mp4.part").exists());
        assert!(!room.join("20250101-000003.flv.tmp").exists());
        assert!(!room.join("x.mp4.part").exists());
        assert!(room.join("notes.flv").exists());
        assert_eq!(display(&jobs[0].flv), "demo/20250101-000001.flv");

        // With MP4 recording off, a plain FLV is complete as it is.
        let jobs = scan(root, false);
        assert_eq!(jobs.len(), 1);
        assert!(jobs[0].remove_flv);
    }
}
