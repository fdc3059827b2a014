//! The test stream: a 2 Mbit/s H.264 + AAC FLV made once with ffmpeg and cached under
//! `target/bench/`, loaded as a list of tags, and replayed in a loop with timestamps that
//! keep increasing (codec configs and metadata are sent on the first pass only).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use bytes::Bytes;
use onair_shared::flv::{DemuxEvent, Demuxer};
use onair_shared::media::{MediaKind, Parser, Unit};

/// FLV tag / RTMP message type ids, as the one media-kind enum numbers them.
pub const AUDIO: u8 = MediaKind::Audio.type_id();
/// Video tag / message.
pub const VIDEO: u8 = MediaKind::Video.type_id();
/// AMF0 script data (`onMetaData`).
pub const SCRIPT: u8 = MediaKind::Script.type_id();

/// Arguments of the ffmpeg command that makes the cached clip (720p30 test pattern with a
/// 440 Hz sine, 1.9 Mbit/s CBR-ish H.264 with a fixed 2 s GOP, 96 kbit/s AAC, 40 s).
#[rustfmt::skip]
const FFMPEG_ARGS: &[&str] = &[
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", "40",
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    "-b:v", "1900k", "-maxrate", "1900k", "-bufsize", "1900k",
    "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "96k",
    "-f", "flv",
];

/// One tag of the clip.
#[derive(Debug, Clone)]
pub struct MediaTag {
    /// 8 audio, 9 video, 18 script.
    pub type_id: u8,
    /// Timestamp in the clip, ms.
    pub timestamp: u32,
    /// The tag body (what an RTMP message carries).
    pub body: Bytes,
    /// Metadata or a codec sequence header: sent once, not on every loop.
    pub config: bool,
}

/// The loaded clip.
#[derive(Debug)]
pub struct Media {
    /// Tags in file order.
    pub tags: Vec<MediaTag>,
    /// Length of one pass, ms: the next pass starts at this timestamp offset.
    pub loop_ms: u32,
    /// Audio + video body bytes of one pass.
    pub media_bytes: u64,
}

/// `target/bench/stream-2mbps-720p30.flv` in this workspace.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/stream-2mbps-720p30.flv")
}

/// Makes the clip with ffmpeg unless it is already there.
pub fn ensure(path: &Path) -> anyhow::Result<()> {
    if path.is_file() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let partial = path.with_extension("partial.flv");
    eprintln!(
        "onair-bench: generating the test stream {} with ffmpeg (once, ~30 s)…",
        path.display()
    );
    let status = Command::new("ffmpeg")
        .args(FFMPEG_ARGS)
        .arg(&partial)
        .status()
        .context("cannot run ffmpeg (install it: apt-get install ffmpeg)")?;
    if !status.success() {
        bail!("ffmpeg failed ({status}) making {}", partial.display());
    }
    std::fs::rename(&partial, path).with_context(|| format!("cannot rename to {}", path.display()))
}

impl Media {
    /// Reads and demuxes an FLV file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut demux = Demuxer::new(16 << 20);
        demux.push(&bytes);
        let mut tags = Vec::new();
        let mut parser = Parser::new();
        while let Some(event) = demux
            .next_event()
            .with_context(|| format!("{} is not a valid FLV file", path.display()))?
        {
            if let DemuxEvent::Tag(tag) = event {
                // Metadata and sequence headers are sent once, not on every loop.
                let unit = parser.parse(tag.kind, tag.timestamp, &tag.data);
                let config = matches!(unit, Ok(Unit::Script(_) | Unit::Config(_)));
                tags.push(MediaTag {
                    type_id: tag.kind.type_id(),
                    timestamp: tag.timestamp,
                    config,
                    body: tag.data,
                });
            }
        }
        let Some(last_ts) = tags.iter().map(|t| t.timestamp).max() else {
            bail!("{} has no tags", path.display());
        };
        let media_bytes = tags
            .iter()
            .filter(|t| t.type_id != SCRIPT)
            .map(|t| t.body.len() as u64)
            .sum();
        // One video frame interval after the last tag keeps every track's timestamps
        // increasing across the loop point.
        let video: Vec<u32> = tags
            .iter()
            .filter(|t| t.type_id == VIDEO)
            .map(|t| t.timestamp)
            .collect();
        let frame = match video.as_slice() {
            [.., a, b] if b > a => b - a,
            _ => 33,
        };
        Ok(Self {
            tags,
            loop_ms: last_ts + frame,
            media_bytes,
        })
    }

    /// Audio + video bit rate of the clip, bit/s.
    pub fn bitrate(&self) -> f64 {
        self.media_bytes as f64 * 8.0 / (f64::from(self.loop_ms) / 1000.0)
    }

    /// The tags to send, forever: `(timestamp, tag)`, configs on the first pass only.
    pub fn looped(&self) -> impl Iterator<Item = (u64, &MediaTag)> {
        let loop_ms = u64::from(self.loop_ms);
        (0u64..)
            .flat_map(move |pass| self.tags.iter().map(move |t| (pass, t)))
            .filter(|(pass, t)| *pass == 0 || !t.config)
            .map(move |(pass, t)| (pass * loop_ms + u64::from(t.timestamp), t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata and sequence headers (legacy and Enhanced) are sent once; frames loop.
    #[test]
    fn configs_are_recognised() {
        use onair_shared::flv::{FlvHeader, Tag, write_header, write_tag};
        let avcc: &[u8] = &[
            1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xce,
        ];
        let bodies: [(MediaKind, Vec<u8>, bool); 7] = [
            (
                MediaKind::Script,
                vec![
                    2, 0, 10, b'o', b'n', b'M', b'e', b't', b'a', b'D', b'a', b't', b'a',
                ],
                true,
            ),
            (
                MediaKind::Video,
                [&[0x17, 0, 0, 0, 0][..], avcc].concat(),
                true,
            ),
            (MediaKind::Video, vec![0x17, 1, 0, 0, 0], false),
            (MediaKind::Video, vec![0x27, 1, 0, 0, 0], false),
            (MediaKind::Audio, vec![0xaf, 0, 0x12, 0x10], true),
            (MediaKind::Audio, vec![0xaf, 1, 0x21], false),
            (
                MediaKind::Video,
                [&[0x90][..], b"avc1", avcc].concat(),
                true,
            ),
        ];
        let mut flv = bytes::BytesMut::new();
        write_header(&FlvHeader::new(true, true), &mut flv);
        for (i, (kind, body, _)) in bodies.iter().enumerate() {
            let tag = Tag {
                kind: *kind,
                timestamp: i as u32,
                stream_id: 0,
                data: Bytes::from(body.clone()),
            };
            write_tag(&tag, &mut flv).unwrap();
        }
        let path = std::env::temp_dir().join(format!("onair-bench-{}.flv", std::process::id()));
        std::fs::write(&path, &flv).unwrap();
        let media = Media::load(&path);
        let _ = std::fs::remove_file(&path);
        let flags: Vec<bool> = media.unwrap().tags.iter().map(|t| t.config).collect();
        let want: Vec<bool> = bodies.iter().map(|(_, _, config)| *config).collect();
        assert_eq!(flags, want);
    }

    #[test]
    fn loop_skips_configs_and_offsets_timestamps() {
        let tag = |type_id, timestamp, config| MediaTag {
            type_id,
            timestamp,
            body: Bytes::from_static(b"xx"),
            config,
        };
        let media = Media {
            tags: vec![
                tag(VIDEO, 0, true),
                tag(VIDEO, 0, false),
                tag(VIDEO, 33, false),
            ],
            loop_ms: 66,
            media_bytes: 6,
        };
        let ts: Vec<u64> = media.looped().take(5).map(|(ts, _)| ts).collect();
        assert_eq!(ts, [0, 0, 33, 66, 99]);
    }
}
