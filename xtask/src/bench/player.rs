//! The player's benchmarks.
//! - `cargo xtask bench remux`: the FLV → fMP4 remux, built to wasm exactly as the client
//!   ships (`wasm-release` profile), timed under Node on an ffmpeg-made stream.
//! - `cargo xtask bench g2g`: glass-to-glass latency, studio → release server → player in
//!   headless Chromium, per-minute p50/p95 (`e2e/g2g.mjs`).

use super::flags::Flags;
use crate::tools::{self, Fail, TempDir, root, run, step};

pub const USAGE: &str = "\
usage: cargo xtask bench remux [--seconds S] [--bitrate B] [--size WxH] [--runs N]

  --seconds S             length of the test stream (default 60)
  --bitrate B             video bitrate for ffmpeg (default 4M)
  --size WxH              picture size (default 1280x720, 30 fps, + AAC 128k)
  --runs N                timed runs after one warm-up (default 7)

usage: cargo xtask bench g2g [--seconds S] [--window W]

  --seconds S             how long to measure after a 5 s warm-up (default 300)
  --window W              report p50/p95 per window of W seconds (default 60)";

pub fn remux(args: &[String]) -> Result<(), Fail> {
    let o = Flags::parse(
        args,
        &[
            ("--seconds", "60"),
            ("--bitrate", "4M"),
            ("--size", "1280x720"),
            ("--runs", "7"),
        ],
        false,
        USAGE,
    )?;
    let [seconds, bitrate, size, runs] =
        ["--seconds", "--bitrate", "--size", "--runs"].map(|n| o.get(n));
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_system_tools()?;
    tools::ensure_node()?;
    let dir = TempDir::new("bench-remux")?;
    let clip = dir.0.join("stream.flv");
    step(&format!(
        "encoding a {seconds} s {size} H.264 {bitrate} + AAC stream with ffmpeg"
    ));
    let clip_s = clip.to_string_lossy().to_string();
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=30:duration={seconds}"),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={seconds}"),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            bitrate,
            "-maxrate",
            bitrate,
            "-bufsize",
            bitrate,
            "-g",
            "60",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "flv",
            &clip_s,
        ],
        "ffmpeg could not make the test stream",
    )?;
    step("building the remux for wasm32 (profile wasm-release, as the client ships)");
    run(
        "cargo",
        &[
            "build",
            "-p",
            "onair-bench-wasm",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ],
        "check the compiler output above",
    )?;
    let target = tools::target_dir();
    let wasm = target.join("wasm32-unknown-unknown/wasm-release/onair_bench_wasm.wasm");
    let pkg = dir.0.join("pkg");
    run(
        "wasm-bindgen",
        &[
            "--target",
            "nodejs",
            "--out-dir",
            &pkg.to_string_lossy(),
            &wasm.to_string_lossy(),
        ],
        "wasm-bindgen failed",
    )?;
    step("timing the remux under Node (one push per FLV tag, like WS-FLV messages)");
    let script = root().join("bench/wasm/run.mjs");
    run(
        "node",
        &[
            &script.to_string_lossy(),
            &pkg.to_string_lossy(),
            &clip_s,
            runs,
        ],
        "the Node benchmark failed",
    )
}

pub fn g2g(args: &[String]) -> Result<(), Fail> {
    let o = Flags::parse(
        args,
        &[("--seconds", "300"), ("--window", "60")],
        false,
        USAGE,
    )?;
    let [seconds, window] = ["--seconds", "--window"].map(|n| o.get(n));
    crate::build_client()?;
    tools::ensure_system_tools()?;
    crate::e2e::prepare()?;
    crate::e2e::node_against_server(
        &["g2g.mjs", "--seconds", seconds, "--window", window],
        |url| format!("glass-to-glass for {seconds} s: studio → {url} → player"),
        "see the error and the server log above",
    )
}
