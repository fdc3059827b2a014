//! A viewer that reads slower than the stream is skipped to keyframes, then disconnected.
//!
//! Its own test binary (so its own process): `slow_viewers` measures process-wide RSS, and a
//! second server running beside it in the same process would be charged to it.

mod support;

use std::time::{Duration, Instant};

use support::TestServer;
use support::media::{make_heavy_clip, push, wait_child};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

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
