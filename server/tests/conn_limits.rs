//! Connection caps over real sockets: one address cannot hold more than
//! `max_connections_per_ip` connections on the RTMP or HTTP port (the rest are closed at
//! accept and counted), another address is still served, places are given back when
//! connections close, and an HTTP client that never finishes its headers is closed by the
//! header timeout.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::TestServer;
use support::media::{make_clip, push};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PER_IP: usize = 5;

/// Connects from `source` (a loopback address) to `to`.
async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((source, 0))).unwrap();
    sock.connect(to).await.unwrap()
}

/// Whether the server closed `sock` within `wait` (EOF or reset), without sending data.
async fn closed_within(sock: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait, sock.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_socket() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = PER_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 20);
    // The publisher is one of 127.0.0.1's places on the RTMP port.
    let mut publisher = push(&clip, &server.rtmp_url("/live/steady?key=k"));
    server.wait_live("steady").await;

    for (port, what) in [(server.rtmp, "RTMP"), (server.http, "HTTP")] {
        let mut held = Vec::new();
        for _ in 0..PER_IP * 2 {
            held.push(connect_from([127, 0, 0, 1], port).await);
        }
        let mut refused = 0;
        for sock in &mut held {
            if closed_within(sock, Duration::from_millis(300)).await {
                refused += 1;
            }
        }
        // RTMP: the publisher holds one place. HTTP: the test client's pool may keep one
        // kept-alive connection from `wait_live`.
        let admitted = held.len() - refused;
        let others = if what == "RTMP" { 1..=1 } else { 0..=1 };
        assert!(
            others.contains(&(PER_IP - admitted.min(PER_IP))) && admitted <= PER_IP,
            "{what}: {admitted} of {} admitted, cap {PER_IP}",
            held.len()
        );

        // Another address is served while 127.0.0.1 is at its cap.
        let mut other = connect_from([127, 0, 0, 2], server.http).await;
        other
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        other.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{what}: {answer}");

        // Places come back when connections close.
        drop(held);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut again = connect_from([127, 0, 0, 1], port).await;
        assert!(
            !closed_within(&mut again, Duration::from_millis(300)).await,
            "{what}: a place was not given back"
        );
    }
    let metrics = server.metrics().await;
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("onair_refused_connections_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(refused >= (2 * PER_IP + 1) as u64, "{metrics}");

    // Slowloris: headers that never end are cut by the header timeout.
    let mut slow = connect_from([127, 0, 0, 3], server.http).await;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(15)).await,
        "an unfinished request head kept its connection"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let _ = publisher.kill();
    let _ = publisher.wait();
    server.stop().await;
}
