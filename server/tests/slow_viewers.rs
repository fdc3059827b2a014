//! Slow and stuck viewers: memory stays bounded whatever they do, and the viewers that
//! keep up see every frame.

mod support;

use std::time::{Duration, Instant};

use support::TestServer;
use support::media::{make_heavy_clip, probe, push, record, rss_bytes, wait_child};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// An HTTP-FLV viewer that sends its request and then never reads.
async fn stalled_viewer(server: &TestServer, room: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stream = sock.connect(server.http).await.unwrap();
    let req = format!("GET /live/{room}.flv HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    stream
}

/// How long the stream runs before the viewers come: the hub's ring (1024 batches, one per
/// video frame: 41 s at 25 fps) and the HLS window (6 segments of 2 s, CMAF and TS) fill up
/// first, so what the server legitimately holds is already in the baseline and the growth
/// measured is what the viewers cost.
const WARM_UP: Duration = Duration::from_secs(44);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_viewers_cost_bounded_memory_and_others_see_every_frame() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_heavy_clip(dir.path(), "heavy.flv", 80, 2000);
    let publisher = push(&clip, &server.url("/live/heavy.flv?key=k"));
    server.wait_live("heavy").await;
    tokio::time::sleep(WARM_UP).await;

    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(stalled_viewer(&server, "heavy").await);
    }
    let out = dir.path().join("normal.flv");
    let started = Instant::now();
    let normal = record(&server.url("/live/heavy.flv"), 32, &out);
    // Let the stalled viewers' buffers fill, then take the baseline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = rss_bytes();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = rss_bytes();
    let growth = after.saturating_sub(baseline);
    eprintln!("RSS growth while 20 viewers stalled: {} KiB", growth / 1024);
    // 20 viewers x 30 s x 2 Mbit/s would be 150 MB if anything queued per viewer. The ring
    // and the HLS window are full before the baseline (see WARM_UP); what is left is the
    // recorder's buffer and the allocator's slack. This test is alone in its process (see
    // slow_viewer_disconnect.rs), so no other server is counted.
    assert!(
        growth < 24 << 20,
        "RSS grew by {} KiB while 20 viewers stalled for 30 s",
        growth / 1024
    );

    assert!(wait_child(normal, 20).await, "the normal viewer failed");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(38),
        "the normal viewer fell behind: 32 s of media took {elapsed:?}"
    );
    let p = probe(out.to_str().unwrap());
    p.assert_watched(700, "normal viewer");
    drop(stalled);
    let _ = wait_child(publisher, 30).await;
    server.stop().await;
}
