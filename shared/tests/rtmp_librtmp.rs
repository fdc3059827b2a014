//! Real-client tests with librtmp (the library OBS's RTMP output descends from), through
//! `rtmpdump`: plain handshake by default, and the FP9 digest handshake when SWF
//! verification data is given, in which case librtmp rejects a server whose S1 digest or
//! S2 signature is wrong. Skipped (with a note) if rtmpdump is absent.
#![cfg(not(target_arch = "wasm32"))]

mod rtmp_support;

use std::time::Duration;

use rtmp_support::{accept, flv_video_tags, listen, new_session, serve_flv, spawn};

fn rtmpdump_present() -> bool {
    // rtmpdump --help exits non-zero, so look for the binary on PATH instead.
    let ok = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("rtmpdump").is_file()));
    if !ok {
        eprintln!("SKIPPED: rtmpdump is not installed");
    }
    ok
}

#[test]
fn rtmpdump_plays_with_plain_handshake() {
    if rtmpdump_present() {
        play(&[], false);
    }
}

#[test]
fn rtmpdump_plays_with_fp9_digest_handshake() {
    // Any SWF hash and size make librtmp use (and verify) the FP9 digest handshake.
    if rtmpdump_present() {
        play(&["-w", &"00".repeat(32), "-x", "1"], true);
    }
}

fn play(extra_args: &[&str], digest: bool) {
    let flv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/avc_aac_bframes.flv"
    ))
    .unwrap();
    let sent_video = flv_video_tags(&flv);
    let (listener, url) = listen("/live/room1");
    let out_path = std::env::temp_dir().join(format!(
        "onair-rtmpdump-{}-{digest}.flv",
        std::process::id()
    ));
    let out_arg = out_path.to_string_lossy().into_owned();
    let mut args = vec!["-q", "--live", "-r", &url, "-o", &out_arg];
    args.extend_from_slice(extra_args);
    let mut rtmpdump = spawn("rtmpdump", &args);
    let mut stream = accept(&listener, &mut rtmpdump);
    let mut session = new_session();
    let played = serve_flv(&mut stream, &mut session, &flv);
    let (status, stderr) = rtmpdump.wait_exit(Duration::from_secs(30));
    let got = std::fs::read(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    // rtmpdump exits 0 (complete) or 2 (incomplete, normal for a live stream that stops).
    assert!(
        matches!(status.code(), Some(0 | 2)),
        "rtmpdump failed: {status} {stderr}"
    );
    assert_eq!(played.as_deref(), Some("room1"));
    assert_eq!(session.handshake_used_digest(), digest);
    assert!(got.starts_with(b"FLV"), "no FLV written: {stderr}");
    let video = flv_video_tags(&got);
    // librtmp drops video messages of ≤ 5 bytes (the AVC end-of-sequence tag).
    assert_eq!(video, sent_video - 1, "video tags written by rtmpdump");
}
