//! RTMP with real clients (ffmpeg push and play) and hostile ones (raw sockets sending
//! garbage, oversized chunk sizes and messages, unknown AMF0 types): each bad connection
//! is closed alone, with a reason in the log and the metrics, and viewers never notice.

mod support;

use std::time::Duration;

use support::TestServer;
use support::media::{make_clip, probe, push, record, wait_child};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_rtmp_push_plays_over_http_flv_and_rtmp() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let publisher = push(&clip, &server.rtmp_url("/live/rroom?key=secret"));
    server.wait_live("rroom").await;
    assert_eq!(server.streams().await[0]["publisher"], "rtmp");

    let http_out = dir.path().join("http.flv");
    let rtmp_out = dir.path().join("rtmp.flv");
    let http_viewer = record(&server.url("/live/rroom.flv"), 3, &http_out);
    let rtmp_viewer = record(&server.rtmp_url("/live/rroom"), 3, &rtmp_out);
    assert!(wait_child(http_viewer, 20).await, "HTTP-FLV viewer failed");
    assert!(wait_child(rtmp_viewer, 20).await, "RTMP viewer failed");
    for out in [&http_out, &rtmp_out] {
        let p = probe(out.to_str().unwrap());
        assert_eq!(p.codec_names(), ["aac", "h264"], "{out:?}");
        assert_eq!(p.video_stream()["width"], 320, "{out:?}");
        assert_eq!(p.video_stream()["height"], 240, "{out:?}");
        p.assert_watched(60, &format!("{out:?}"));
    }
    assert!(
        wait_child(publisher, 30).await,
        "ffmpeg RTMP publisher failed"
    );
    // A deliberate unpublish ends the stream at once (no grace period).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.streams().await.as_array().unwrap().len(), 0);
    server.stop().await;
}

/// A plain RTMP handshake as a client; returns the connected socket.
async fn handshake(server: &TestServer) -> TcpStream {
    let mut sock = TcpStream::connect(server.rtmp).await.unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; 1536]);
    sock.write_all(&c0c1).await.unwrap();
    let mut s = vec![0u8; 1 + 1536 * 2];
    sock.read_exact(&mut s).await.unwrap();
    assert_eq!(s[0], 3);
    sock.write_all(&s[1..1537]).await.unwrap(); // C2 echoes S1
    sock
}

/// Reads until the server closes the socket; panics if it stays open.
async fn expect_closed(mut sock: TcpStream, what: &str) {
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Err(_) => panic!("{what}: the server did not close the connection"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// A type-0 chunk on csid 3 carrying one whole message (payload ≤ 128 bytes).
fn chunk(type_id: u8, payload: &[u8], announced_len: Option<u32>) -> Vec<u8> {
    let len = announced_len.unwrap_or(payload.len() as u32);
    let mut c = vec![0x03, 0, 0, 0];
    c.extend_from_slice(&len.to_be_bytes()[1..]);
    c.push(type_id);
    c.extend_from_slice(&[0, 0, 0, 0]);
    c.extend_from_slice(payload);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_rtmp_clients_are_closed_alone() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 10);
    let publisher = push(&clip, &server.rtmp_url("/live/steady?key=k"));
    server.wait_live("steady").await;
    let out = dir.path().join("steady.flv");
    let viewer = record(&server.url("/live/steady.flv"), 5, &out);

    // Garbage instead of a handshake.
    let mut sock = TcpStream::connect(server.rtmp).await.unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    expect_closed(sock, "HTTP request on the RTMP port").await;
    // Garbage after the handshake: a chunk referring to a stream with no previous header.
    let mut sock = handshake(&server).await;
    sock.write_all(&[0xC7; 300]).await.unwrap();
    expect_closed(sock, "garbage after handshake").await;
    // A 16 MiB chunk size.
    let mut sock = handshake(&server).await;
    sock.write_all(&chunk(1, &(16u32 << 20).to_be_bytes(), None))
        .await
        .unwrap();
    expect_closed(sock, "16 MiB chunk size").await;
    // A message longer than the limit (announced 16 MiB - 1).
    let mut sock = handshake(&server).await;
    sock.write_all(&chunk(20, &[0x02, 0x00], Some(0xFF_FFFF)))
        .await
        .unwrap();
    expect_closed(sock, "oversized message").await;
    // A 1 MiB `connect`: under the 8 MiB media limit, but over the 64 KiB a client may send
    // before it is let in to publish; refused from the chunk header, before the payload is
    // read or buffered (the 60 KiB that follow are never kept).
    let mut sock = handshake(&server).await;
    let mut big = chunk(20, &[0x02, 0x00, 0x07], Some(1 << 20));
    big.extend_from_slice(b"connect");
    big.resize(60 * 1024, 0x05);
    let _ = sock.write_all(&big).await;
    expect_closed(sock, "1 MiB connect").await;
    // An unknown AMF0 type in a command.
    let mut sock = handshake(&server).await;
    let mut cmd = vec![0x02, 0x00, 0x07];
    cmd.extend_from_slice(b"connect");
    cmd.extend_from_slice(&[0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x42]);
    sock.write_all(&chunk(20, &cmd, None)).await.unwrap();
    expect_closed(sock, "unknown AMF0 type").await;
    // Silence after the handshake times out (but does not need to be waited for here).

    assert!(
        wait_child(viewer, 20).await,
        "the viewer of the good stream failed"
    );
    let p = probe(out.to_str().unwrap());
    p.assert_watched(100, "good viewer");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("onair_rejected_connections_total 6\n"),
        "{metrics}"
    );
    assert!(wait_child(publisher, 30).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_rtmp_publisher_is_refused_with_a_status() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 5);
    let first = push(&clip, &server.rtmp_url("/live/dup?key=k"));
    server.wait_live("dup").await;
    let second = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-re", "-i"])
        .arg(&clip)
        .args([
            "-c",
            "copy",
            "-f",
            "flv",
            &server.rtmp_url("/live/dup?key=k"),
        ])
        .output()
        .unwrap();
    assert!(!second.status.success(), "a second publisher was accepted");
    assert!(
        wait_child(first, 30).await,
        "the first publisher was disturbed"
    );
    server.stop().await;
}
