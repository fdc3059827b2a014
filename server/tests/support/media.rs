//! Real media tools for the tests: clips made by ffmpeg, packets read back by ffprobe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fails loudly (not skips) when ffmpeg is missing: `cargo xtask test` installs it.
pub fn require_ffmpeg() {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "ffmpeg is not installed; run `cargo xtask test` (it installs it) or `apt-get install ffmpeg`"
    );
}

/// An H.264 (with B-frames) + AAC clip as FLV: 320x240, 25 fps, a keyframe every second.
pub fn make_clip(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    require_ffmpeg();
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=44100:duration={seconds}"
        ))
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make the test clip");
    out
}

/// A hard-to-compress 640x360 clip at about `kbps` (noise keeps x264 at its cap).
pub fn make_heavy_clip(dir: &Path, name: &str, seconds: u32, kbps: u32) -> PathBuf {
    require_ffmpeg();
    let out = dir.join(name);
    let rate = format!("{kbps}k");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=640x360:rate=25:duration={seconds},noise=alls=40:allf=t"
        ))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-b:v",
            &rate,
            "-minrate",
            &rate,
            "-maxrate",
            &rate,
        ])
        .args(["-bufsize", &rate, "-pix_fmt", "yuv420p", "-f", "flv"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make the heavy clip");
    out
}

/// Resident memory of this process (the in-process server's), in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct ProbePacket {
    pub video: bool,
    pub dts_ms: i64,
    pub key: bool,
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub streams: Vec<serde_json::Value>,
    pub packets: Vec<ProbePacket>,
}

impl Probe {
    pub fn video_stream(&self) -> &serde_json::Value {
        self.streams
            .iter()
            .find(|s| s["codec_type"] == "video")
            .expect("no video stream")
    }
    pub fn codec_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .streams
            .iter()
            .map(|s| s["codec_name"].as_str().unwrap_or("?").to_string())
            .collect();
        names.sort();
        names
    }
    pub fn video(&self) -> Vec<&ProbePacket> {
        self.packets.iter().filter(|p| p.video).collect()
    }
    pub fn audio(&self) -> Vec<&ProbePacket> {
        self.packets.iter().filter(|p| !p.video).collect()
    }

    /// What a viewer of a test clip (25 fps, see [`make_clip`]) must have received: at least
    /// `min_frames` video frames, and [`Probe::assert_clean_live_view`] with 40 ms frames.
    pub fn assert_watched(&self, min_frames: usize, who: &str) {
        let frames = self.video().len();
        assert!(
            frames >= min_frames,
            "{who}: only {frames} video frames (want at least {min_frames})"
        );
        self.assert_clean_live_view(40);
    }

    /// What every viewer must see: a keyframe first, strictly increasing video DTS without
    /// gaps (every frame after joining), non-decreasing audio DTS.
    pub fn assert_clean_live_view(&self, frame_ms: i64) {
        self.assert_monotonic_live_view();
        for w in self.video().windows(2) {
            let gap = w[1].dts_ms - w[0].dts_ms;
            assert!(
                gap <= frame_ms * 3 / 2,
                "video frames missing between {} and {}",
                w[0].dts_ms,
                w[1].dts_ms
            );
        }
    }

    /// A keyframe first and monotonic timestamps, for publishers that may themselves drop
    /// frames (a live capture source whose encoder falls behind on a busy machine).
    pub fn assert_monotonic_live_view(&self) {
        let video = self.video();
        assert!(!video.is_empty(), "no video packets");
        assert!(video[0].key, "first video packet is not a keyframe");
        for w in video.windows(2) {
            assert!(
                w[1].dts_ms > w[0].dts_ms,
                "video DTS not increasing: {} then {}",
                w[0].dts_ms,
                w[1].dts_ms
            );
        }
        let audio = self.audio();
        for w in audio.windows(2) {
            assert!(
                w[1].dts_ms >= w[0].dts_ms,
                "audio DTS went back: {} then {}",
                w[0].dts_ms,
                w[1].dts_ms
            );
        }
    }
}

/// ffprobe's format duration of a file, in seconds.
pub fn format_duration(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe {}: {out:?}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("duration {text:?}"))
}

/// ffprobe's view of a file or URL: streams and every packet.
pub fn probe(input: &str) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_entries",
            "packet=codec_type,dts_time,flags",
            input,
        ])
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe failed on {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let packets = json["packets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let dts: f64 = p["dts_time"].as_str()?.parse().ok()?;
            Some(ProbePacket {
                video: p["codec_type"] == "video",
                dts_ms: (dts * 1000.0).round() as i64,
                key: p["flags"].as_str().is_some_and(|f| f.starts_with('K')),
            })
        })
        .collect();
    Probe { streams, packets }
}

/// `ffmpeg -re -i clip -c copy -f flv URL` in the background: a real publisher.
pub fn push(clip: &Path, url: &str) -> std::process::Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-re", "-i"])
        .arg(clip)
        .args(["-c", "copy", "-f", "flv", url])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg push")
}

/// Records `seconds` of a live URL into `out` with stream copy (a real viewer).
pub fn record(url: &str, seconds: u32, out: &Path) -> std::process::Child {
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-y",
            "-i",
            url,
            "-t",
            &seconds.to_string(),
            "-c",
            "copy",
            "-f",
            "flv",
        ])
        .arg(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg viewer")
}

/// Waits for a child with a deadline; returns whether it exited successfully.
pub async fn wait_child(mut child: std::process::Child, secs: u64) -> bool {
    for _ in 0..secs * 20 {
        if let Some(status) = child.try_wait().expect("wait child") {
            return status.success();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("child process did not finish within {secs} s");
}
