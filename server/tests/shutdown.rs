//! A shutdown that loses nothing, with the real binary and real clients: SIGTERM mid-stream
//! ends the viewers' streams cleanly and finishes the recordings (FLV and a `moov`-first MP4)
//! before a clean exit; after a SIGKILL, the next start builds the MP4 the crash left unbuilt.
//! In-process: open WebSocket sessions and an HTTP-FLV publisher cannot hold a shutdown open,
//! and a blocked HLS playlist request is answered with `EXT-X-ENDLIST`.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::TestServer;
use support::media::{format_duration, make_clip, probe, push, require_ffmpeg};
use tokio_tungstenite::tungstenite::Message;

/// A child process killed (and reaped) when the test lets go of it, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `onair` binary on loopback ports, logging to a file.
struct Onair {
    proc: Killed,
    http: SocketAddr,
    rtmp: SocketAddr,
    log: PathBuf,
}

/// A port free a moment ago; [`Onair::start`] retries if another process took it since.
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap()
}

impl Onair {
    async fn start(data: &Path, log: &Path) -> Self {
        for _ in 0..5 {
            let (http, rtmp) = (free_port(), free_port());
            let out = std::fs::File::create(log).expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_onair"))
                .args(["--open-publish", "--http", &http.to_string()])
                .args(["--rtmp", &rtmp.to_string(), "--data"])
                .arg(data)
                .env("RUST_LOG", "info")
                .env("ONAIR_ADMIN_TOKEN", support::ADMIN_TOKEN)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start onair");
            let mut server = Onair {
                proc: Killed(child),
                http,
                rtmp,
                log: log.to_path_buf(),
            };
            if server.wait_healthy().await {
                return server;
            }
        }
        panic!(
            "onair did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Waits for `/healthz`; false if the process exited (a port was taken meanwhile).
    async fn wait_healthy(&mut self) -> bool {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if self.proc.0.try_wait().unwrap().is_some() {
                return false;
            }
            let res = client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if res.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.proc.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// The exit status, or `None` if the process is still running after `limit`.
    async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.proc.0.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_live(&self, room: &str) {
        let key = format!("live/{room}");
        for _ in 0..300 {
            let streams: serde_json::Value = reqwest::Client::new()
                .get(self.url("/api/streams"))
                .bearer_auth(support::ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let live =
                streams.as_array().unwrap().iter().any(|s| {
                    s["key"] == key.as_str() && s["live"] == true && !s["video"].is_null()
                });
            if live {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{key} did not go live; log:\n{}", self.log());
    }
}

/// Reads an HTTP-FLV body to its end: the bytes if it ended cleanly, the error if not.
async fn view(url: String) -> Result<Vec<u8>, String> {
    let res = reqwest::get(url).await.map_err(|e| e.to_string())?;
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut got = Vec::new();
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.map_err(|e| format!("{e:?} after {} bytes", got.len()))?);
    }
    Ok(got)
}

/// The files of `dir` with the extension `ext`.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == ext));
    out.sort();
    out
}

/// Top-level box types of an MP4 file.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string());
        assert!(size >= 8, "bad box size at {at}");
        at += size;
    }
    assert_eq!(at, bytes.len(), "boxes do not end at the end of the file");
    out
}

/// The media a live FLV holds, in seconds: first to last packet (a live FLV's metadata has
/// no duration).
fn media_span(flv: &Path) -> f64 {
    let p = probe(&flv.display().to_string());
    let first = p
        .packets
        .iter()
        .map(|x| x.dts_ms)
        .min()
        .expect("no packets");
    let last = p.packets.iter().map(|x| x.dts_ms).max().unwrap();
    (last - first) as f64 / 1000.0
}

/// The MP4 is whole, `moov` first, and lasts what its FLV holds (within 5 %).
fn assert_mp4_matches(mp4: &Path, flv: &Path) {
    let boxes = top_level_boxes(&std::fs::read(mp4).unwrap());
    let moov = boxes.iter().position(|b| b == "moov").expect("no moov");
    let mdat = boxes.iter().position(|b| b == "mdat").expect("no mdat");
    assert!(moov < mdat, "moov after mdat: {boxes:?}");
    let (flv_s, mp4_s) = (media_span(flv), format_duration(mp4));
    println!(
        "{}: FLV holds {flv_s:.3} s, MP4 lasts {mp4_s:.3} s",
        mp4.display()
    );
    assert!(
        (mp4_s - flv_s).abs() <= flv_s * 0.05,
        "MP4 lasts {mp4_s} s, its FLV holds {flv_s} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_finishes_recordings() {
    require_ffmpeg();
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let clip = make_clip(temp.path(), "clip.flv", 30);
    let mut server = Onair::start(&data, &temp.path().join("onair.log")).await;

    let _publisher = Killed(push(&clip, &format!("rtmp://{}/live/sig", server.rtmp)));
    server.wait_live("sig").await;
    let viewer = tokio::spawn(view(server.url("/live/sig.flv")));
    tokio::time::sleep(Duration::from_secs(8)).await;

    let drain = Duration::from_secs(30); // the default
    let signalled = Instant::now();
    server.signal("-TERM");
    let status = server.wait_exit(drain).await;
    let took = signalled.elapsed();
    let log = server.log();
    let status = status.unwrap_or_else(|| panic!("still running after {drain:?}; log:\n{log}"));
    println!("exited with {status} after {took:?}");
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("shutdown complete"), "log:\n{log}");
    assert!(!log.contains("exiting anyway"), "log:\n{log}");

    // The viewer's chunked body ended (terminating chunk, not a reset) at a tag boundary.
    let seen = tokio::time::timeout(Duration::from_secs(5), viewer)
        .await
        .expect("viewer still reading after the server exited")
        .unwrap()
        .unwrap_or_else(|e| panic!("viewer's stream did not end cleanly: {e}"));
    let mut demux = onair_shared::flv::Demuxer::new(1 << 24);
    demux.push(&seen);
    let mut tags = 0;
    while let Some(event) = demux.next_event().expect("viewer got valid FLV") {
        tags += usize::from(matches!(event, onair_shared::flv::DemuxEvent::Tag(_)));
    }
    assert!(demux.at_tag_boundary(), "the viewer's FLV ends mid-tag");
    assert!(tags > 200, "the viewer saw only {tags} tags");

    let rec = data.join("recordings").join("sig");
    let (flvs, mp4s) = (files(&rec, "flv"), files(&rec, "mp4"));
    assert_eq!(
        (flvs.len(), mp4s.len()),
        (1, 1),
        "recordings: {flvs:?} {mp4s:?}"
    );
    assert!(files(&rec, "part").is_empty());
    // About 8 s were pushed (plus the time it took to go live and to signal).
    let pushed = media_span(&flvs[0]);
    assert!((6.0..12.0).contains(&pushed), "the FLV holds {pushed} s");
    assert_mp4_matches(&mp4s[0], &flvs[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_the_next_start_recovers_the_recording() {
    require_ffmpeg();
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let clip = make_clip(temp.path(), "clip.flv", 30);
    let mut server = Onair::start(&data, &temp.path().join("first.log")).await;
    let publisher = Killed(push(&clip, &format!("rtmp://{}/live/crash", server.rtmp)));
    server.wait_live("crash").await;
    // The live FLV is flushed every second; what a crash can lose is the last one.
    tokio::time::sleep(Duration::from_secs(6)).await;
    server.signal("-KILL");
    assert!(server.wait_exit(Duration::from_secs(10)).await.is_some());
    drop(publisher);

    let rec = data.join("recordings").join("crash");
    let flvs = files(&rec, "flv");
    assert_eq!(flvs.len(), 1, "{flvs:?}");
    assert!(files(&rec, "mp4").is_empty(), "an MP4 before the crash?");
    // As a crash in the middle of building an MP4 leaves it.
    let part = rec.join("x.mp4.part");
    std::fs::write(&part, b"half an mp4").unwrap();

    let mut again = Onair::start(&data, &temp.path().join("second.log")).await;
    let started = Instant::now();
    let mp4s = loop {
        let mp4s = files(&rec, "mp4");
        if !mp4s.is_empty() {
            break mp4s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no MP4 recovered; log:\n{}",
            again.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!part.exists(), "the unfinished MP4 was not removed");
    assert_eq!(mp4s[0].file_stem(), flvs[0].file_stem());
    let held = media_span(&flvs[0]);
    assert!(held > 3.0, "the crashed FLV holds only {held} s");
    assert_mp4_matches(&mp4s[0], &flvs[0]);

    again.signal("-TERM");
    let status = again
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("no exit");
    let log = again.log();
    assert!(status.success(), "{status}; log:\n{log}");
    for line in [
        "removed unfinished MP4",
        "FLV without its MP4",
        "recovery: MP4 written",
    ] {
        assert!(log.contains(line), "log lacks {line:?}:\n{log}");
    }
}

/// The close code of the first close frame, skipping other messages.
async fn close_code(ws: &mut support::rooms::Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sessions_close_on_shutdown_instead_of_holding_it() {
    let server = TestServer::start().await;
    let room = server.create_room("t").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut chat, _) = support::rooms::join(&server, &room, "ann").await;

    // An HTTP-FLV publisher whose body never ends.
    const FLV_HEADER: &[u8] = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";
    let body = futures_util::stream::once(async { Ok::<_, std::io::Error>(FLV_HEADER.to_vec()) })
        .chain(futures_util::stream::pending());
    let post = tokio::spawn(
        reqwest::Client::new()
            .post(server.url("/live/posted.flv?key=k"))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    let (mut ws_push, _) =
        tokio_tungstenite::connect_async(server.ws_url("/live/wspushed.flv?key=k"))
            .await
            .unwrap();
    ws_push
        .send(Message::Binary(FLV_HEADER.to_vec().into()))
        .await
        .unwrap();
    for _ in 0..100 {
        if server.streams().await.as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.streams().await.as_array().unwrap().len(), 2);
    let (mut ws_viewer, _) = tokio_tungstenite::connect_async(server.ws_url("/live/posted.flv"))
        .await
        .unwrap();
    // With no segment yet, a playlist request blocks until one exists or the stream ends.
    let playlist = tokio::spawn(reqwest::get(server.url("/hls/live/posted/index.m3u8")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !playlist.is_finished(),
        "the playlist request did not block"
    );

    let stopping = Instant::now();
    server.stop().await;
    let took = stopping.elapsed();
    // Well inside the test server's 5 s drain: nothing had to be abandoned.
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");

    assert_eq!(close_code(&mut chat).await, Some(1001), "chat");
    assert_eq!(
        close_code(&mut ws_push).await,
        Some(1001),
        "WS-FLV publisher"
    );
    assert_eq!(
        close_code(&mut ws_viewer).await,
        Some(1001),
        "WS-FLV viewer"
    );
    let playlist = playlist.await.unwrap().expect("playlist answered");
    assert_eq!(playlist.status(), 200);
    let text = playlist.text().await.unwrap();
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let posted = tokio::time::timeout(Duration::from_secs(2), post)
        .await
        .expect("the HTTP-FLV publisher's request is still open")
        .unwrap();
    // The answer may arrive (503) or the connection end while the body is still being sent.
    if let Ok(res) = posted {
        assert_eq!(res.status(), 503);
    }
}
