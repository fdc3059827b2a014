//! The live FLV writer: the file header, then every packet's shared FLV tag as it arrives.
//!
//! Writes go through a buffer (a syscall per packet would cost more than the copy) that is
//! flushed at least every second, also while the stream is silent, so a crash loses at
//! most the last second. `tokio::fs` runs the writes on the blocking pool: the runtime
//! never waits for the disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::time::Instant;

use super::RecordError;
use crate::hub::{SubscribeEnd, Subscriber};
use crate::media::flv_file_header;

/// The longest stretch of recorded media kept only in memory.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
const BUFFER: usize = 256 * 1024;

/// A recording that stopped early; `path` is the file written so far, if one was created.
#[derive(Debug)]
pub struct Stopped {
    pub path: Option<PathBuf>,
    pub error: RecordError,
}

/// Records `sub` into `dir/STAMP.EXT` (`STAMP-N.EXT` if that exists) until the stream ends;
/// returns the file's path.
pub async fn record(
    dir: &Path,
    stamp: &str,
    ext: &str,
    mut sub: Subscriber,
) -> Result<PathBuf, Stopped> {
    let stop = |path: Option<&Path>, error| Stopped {
        path: path.map(Path::to_path_buf),
        error,
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| stop(None, RecordError::io(dir)(e)))?;
    let (path, file) = create_unique(dir, stamp, ext)
        .await
        .map_err(|e| stop(None, e))?;
    let mut out = BufWriter::with_capacity(BUFFER, file);
    let io = RecordError::io(&path);
    out.write_all(&flv_file_header(sub.has_audio, sub.has_video))
        .await
        .map_err(|e| stop(Some(&path), io(e)))?;
    let mut deadline = Instant::now() + FLUSH_EVERY;
    loop {
        // `Subscriber::next` is cancel-safe: a timeout loses no packet.
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Ok(packet)) => {
                if let Err(e) = out.write_all(&packet.flv_tag()).await {
                    return Err(stop(Some(&path), RecordError::io(&path)(e)));
                }
            }
            Ok(Err(SubscribeEnd::Ended)) => break,
            Ok(Err(SubscribeEnd::TooSlow)) => {
                // The disk cannot keep up with the stream: keep what was recorded.
                let _ = out.flush().await;
                return Err(stop(
                    Some(&path),
                    RecordError::io(&path)(std::io::Error::other("disk too slow for the stream")),
                ));
            }
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            if let Err(e) = out.flush().await {
                return Err(stop(Some(&path), RecordError::io(&path)(e)));
            }
            deadline = Instant::now() + FLUSH_EVERY;
        }
    }
    drop(sub);
    let finish = async {
        out.flush().await?;
        out.into_inner().sync_all().await
    };
    finish
        .await
        .map_err(|e| stop(Some(&path), RecordError::io(&path)(e)))?;
    Ok(path)
}

/// Creates `dir/STAMP.EXT`, or `STAMP-2.EXT`, … when a stream of the same room started in
/// the same second; never overwrites.
async fn create_unique(dir: &Path, stamp: &str, ext: &str) -> Result<(PathBuf, File), RecordError> {
    for n in 1..100 {
        let name = if n == 1 {
            format!("{stamp}.{ext}")
        } else {
            format!("{stamp}-{n}.{ext}")
        };
        let path = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RecordError::io(&path)(e)),
        }
    }
    Err(RecordError::io(dir)(std::io::Error::other(
        "too many recordings started in one second",
    )))
}
