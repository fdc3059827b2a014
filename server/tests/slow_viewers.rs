//! Slow and stuck viewers: memory stays bounded whatever they do, and the viewers that
//! keep up see every frame.

mod support;

use std::time::{Duration, Instant};

use support::TestServer;
use support::media::{make_heavy_clip, probe, push, record, rss_bytes, wait_child};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_viewers_cost_bounded_memory_and_others_see_every_frame() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_heavy_clip(dir.path(), "heavy.flv", 40, 2000);
    let publisher = push(&clip, &server.url("/live/heavy.flv?key=k"));
    server.wait_live("heavy").await;

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
    // 20 viewers x 30 s x 2 Mbit/s would be 150 MB if anything queued per viewer.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stays_behind_is_skipped_then_disconnected() {
    let server = TestServer::start_with(|c| c.max_viewer_lag = Duration::from_millis(1000)).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_heavy_clip(dir.path(), "slow.flv", 30, 2000);
    let publisher = push(&clip, &server.url("/live/slow.flv?key=k"));
    server.wait_live("slow").await;

    // Reads at about a third of the stream's rate.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(8192).unwrap();
    let mut stream = sock.connect(server.http).await.unwrap();
    stream
        .write_all(b"GET /live/slow.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut closed = false;
    let mut total = 0usize;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => {
                total += n;
                tokio::time::sleep(Duration::from_millis(50)).await // ~80 KB/s of 250 KB/s
            }
            Err(_) => {}
        }
    }
    let m = server.metrics().await;
    assert!(
        closed,
        "the slow viewer was never disconnected; read {total} bytes; {m} {}",
        server.streams().await
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("onair_slow_viewers_disconnected_total 1\n"),
        "{metrics}"
    );
    let skipped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("onair_skipped_frames_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(skipped > 0, "{metrics}");
    let _ = wait_child(publisher, 40).await;
    server.stop().await;
}
