//! Test support shared by `fmp4_ffmpeg.rs` and `ts_ffmpeg.rs` (included with `#[path]`):
//! an ffmpeg-made H.264 + AAC FLV clip read into frames as ingest reads it (its tags by the
//! crate's FLV demuxer, `container_support`, then `media::Parser`), the few codec config
//! fields the writers need, where the test files go, and ffprobe/ffmpeg runners.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../container_support/mod.rs"]
pub mod container_support;

/// One media tag of the source clip, in file (decode) order.
#[derive(Debug, Clone)]
pub enum Media {
    /// An AVC NALU packet: AVCC access unit.
    Video {
        dts: u32,
        cts: i32,
        keyframe: bool,
        data: Vec<u8>,
    },
    /// An AAC raw frame.
    Audio { ts: u32, data: Vec<u8> },
}

/// The clip's codec configs and frames.
#[derive(Debug, Clone)]
pub struct Clip {
    pub avcc: Vec<u8>,
    pub asc: Vec<u8>,
    pub frames: Vec<Media>,
}

impl Clip {
    pub fn video_count(&self) -> usize {
        self.frames
            .iter()
            .filter(|m| matches!(m, Media::Video { .. }))
            .count()
    }
}

/// Where this test binary writes its files (unique per process: binaries run in parallel).
pub fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("onair-fmp4-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `bytes` to `name` in [`work_dir`]; returns the path.
pub fn save(name: &str, bytes: &[u8]) -> PathBuf {
    let path = work_dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The 4 s 320x240 30 fps H.264 (GOP 30, 2 B-frames) + AAC clip, made once per binary.
pub fn source_flv() -> &'static Path {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = work_dir().join("source.flv");
        let args = "-v error -y -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine \
                    -t 4 -c:v libx264 -g 30 -bf 2 -c:a aac -f flv";
        let status = Command::new("ffmpeg")
            .args(args.split_whitespace())
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "ffmpeg could not make the source clip");
        path
    })
}

pub fn source_clip() -> Clip {
    parse_flv(&std::fs::read(source_flv()).unwrap())
}

/// The clip's configs and frames, read the way ingest reads them (the crate's demuxer, then
/// `media::Parser`: both have tests of their own).
pub fn parse_flv(bytes: &[u8]) -> Clip {
    use onair_shared::media::{Codec, Parser, Track, Unit};
    let mut parser = Parser::new();
    let mut clip = Clip {
        avcc: Vec::new(),
        asc: Vec::new(),
        frames: Vec::new(),
    };
    for tag in container_support::flv_tags(bytes) {
        let ts = tag.timestamp;
        match parser.parse(tag.kind, ts, &tag.data).unwrap() {
            Unit::Config(c) => {
                assert!(matches!(c.codec, Codec::H264 | Codec::AAC), "{:?}", c.codec);
                match c.track {
                    Track::Video => clip.avcc = c.record.to_vec(),
                    Track::Audio => clip.asc = c.record.to_vec(),
                }
            }
            Unit::Frame(f) if f.track == Track::Video => clip.frames.push(Media::Video {
                dts: ts,
                cts: f.cts,
                keyframe: f.keyframe,
                data: f.payload.to_vec(),
            }),
            Unit::Frame(f) => clip.frames.push(Media::Audio {
                ts,
                data: f.payload.to_vec(),
            }),
            _ => {}
        }
    }
    clip
}

fn be(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &x| (acc << 8) | u32::from(x))
}

/// `(nal_length_size, sps, pps)` from an AVCDecoderConfigurationRecord.
pub fn avcc_parameter_sets(avcc: &[u8]) -> (u8, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let nal_length_size = (avcc[4] & 3) + 1;
    let mut pos = 5;
    let mut sets = [Vec::new(), Vec::new()];
    // numOfSequenceParameterSets has 3 reserved bits; numOfPictureParameterSets has none.
    for (list, mask) in sets.iter_mut().zip([0x1f, 0xff]) {
        let count = avcc[pos] & mask;
        pos += 1;
        for _ in 0..count {
            let len = be(&avcc[pos..pos + 2]) as usize;
            list.push(avcc[pos + 2..pos + 2 + len].to_vec());
            pos += 2 + len;
        }
    }
    let [sps, pps] = sets;
    (nal_length_size, sps, pps)
}

/// `(object_type, sample_rate_index, channels, sample_rate)` from an AudioSpecificConfig.
pub fn asc_fields(asc: &[u8]) -> (u8, u8, u8, u32) {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let object_type = asc[0] >> 3;
    let index = ((asc[0] & 7) << 1) | (asc[1] >> 7);
    let channels = (asc[1] >> 3) & 0x0f;
    (object_type, index, channels, RATES[usize::from(index)])
}

/// Runs ffprobe with `args` then `path`; returns stdout, asserting success.
pub fn ffprobe(args: &str, path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(args.split_whitespace())
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `[STREAM]` sections of `ffprobe -show_streams` as key → value maps.
pub fn streams(path: &Path) -> Vec<HashMap<String, String>> {
    ffprobe("-v error -show_streams", path)
        .split("[STREAM]")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// ffprobe must find the source clip's two streams in `path`: H.264 320x240 and AAC 44.1 kHz.
pub fn assert_source_streams(path: &Path) {
    let streams = streams(path);
    assert_eq!(streams.len(), 2, "{streams:?}");
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!((&*video["width"], &*video["height"]), ("320", "240"));
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["sample_rate"], "44100");
}

/// Decodes the whole file with ffmpeg; returns its stderr (empty when all is well).
pub fn decode_errors(path: &Path) -> String {
    decode_errors_with(&[], path)
}

/// [`decode_errors`] with extra input options.
pub fn decode_errors_with(options: &[&str], path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(options)
        .arg("-i")
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", path.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Number of frames ffprobe decodes from the first video stream.
pub fn decoded_video_frames(path: &Path) -> usize {
    let args = "-v error -count_frames -select_streams v:0 \
                -show_entries stream=nb_read_frames -of default=nw=1:nk=1";
    // MPEG-TS lists the stream twice (under its program, then alone): take the first.
    let out = ffprobe(args, path);
    out.lines().next().unwrap().parse().unwrap()
}

/// `(pts, dts)` of every packet of the stream `select` (e.g. `v:0`), in its time base.
pub fn packet_times(select: &str, path: &Path) -> Vec<(i64, i64)> {
    let args =
        format!("-v error -select_streams {select} -show_entries packet=pts,dts -of csv=p=0");
    ffprobe(&args, path)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            // MPEG-TS packets print a trailing side-data column (empty) after a comma.
            let mut fields = l.split(',');
            let mut next = || fields.next().unwrap().parse().unwrap();
            (next(), next())
        })
        .collect()
}
