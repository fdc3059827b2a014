//! TLS with real clients: HTTPS (HTTP/1.1 and h2) and WSS on the HTTP port with a
//! self-signed certificate, HSTS, the plain-HTTP redirect, ffmpeg pushing over RTMPS and
//! playing back over HTTPS, and a certificate replaced on disk while the server runs.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::TestServer;
use support::media::{make_clip, probe, push, record, wait_child};
use support::tls::{alpn, connect, get, leaf_fingerprint, write_cert};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HSTS: &str = "max-age=31536000";

/// Everything `sock` sends until it closes (at most 5 s, else the test fails).
async fn read_until_closed(mut sock: TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Err(_) => panic!("{what}: the server kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// HTTP/2 `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441).
const ENABLE_CONNECT_PROTOCOL: u16 = 8;

/// The settings of the server's first HTTP/2 SETTINGS frame, as (id, value).
async fn h2_server_settings(addr: std::net::SocketAddr) -> Vec<(u16, u32)> {
    let mut tls = connect(addr, &[b"h2"]).await.unwrap();
    // Client preface and an empty SETTINGS frame.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    tls.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], 4, "the server's first frame is SETTINGS");
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    tls.read_exact(&mut payload).await.unwrap();
    payload
        .chunks_exact(6)
        .map(|e| {
            let id = u16::from_be_bytes([e[0], e[1]]);
            (id, u32::from_be_bytes([e[2], e[3], e[4], e[5]]))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_https_h2_hsts_and_the_http_redirect() {
    let server = TestServer::start_with(|c| {
        c.tls.self_signed = true;
        c.tls.names = vec!["onair.test".into()];
        c.http_redirect = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    // The certificate stored under DATA/tls is the one served, and it names the extra name.
    // (Connect first: the server writes the files as it starts.)
    let mut tls = connect(server.http, &[b"http/1.1"]).await.unwrap();
    let pem = std::fs::read(server.data.join("tls/self-signed.crt")).unwrap();
    let stored = CertificateDer::from_pem_slice(&pem).unwrap();
    assert_eq!(alpn(&tls).as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(
        leaf_fingerprint(&tls),
        onair_server::tls::fingerprint(&stored)
    );
    let ee = webpki::EndEntityCert::try_from(&stored).unwrap();
    for name in ["onair.test", "localhost", "127.0.0.1", "::1"] {
        let name = ServerName::try_from(name).unwrap();
        ee.verify_is_valid_for_subject_name(&name)
            .unwrap_or_else(|e| panic!("certificate does not cover {name:?}: {e}"));
    }

    // HTTPS over HTTP/1.1: health and a JSON 404, both with HSTS.
    let r = get(&mut tls, "/healthz").await;
    assert_eq!(r.status, 200);
    assert!(
        String::from_utf8_lossy(&r.body).contains(r#""status":"ok""#),
        "{r:?}"
    );
    assert_eq!(r.header("strict-transport-security"), Some(HSTS));
    let r = get(&mut tls, "/api/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("strict-transport-security"), Some(HSTS));

    // A client that offers h2 gets it (ALPN), and h2 works.
    let h2 = connect(server.http, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(alpn(&h2).as_deref(), Some(&b"h2"[..]));
    drop(h2);
    let resp = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["strict-transport-security"], HSTS);

    // h2 does not offer RFC 8441 (WebSocket over h2 streams): browsers then open their
    // WebSockets over HTTP/1.1, which every WebSocket route handles.
    let settings = h2_server_settings(server.http).await;
    assert!(
        !settings.contains(&(ENABLE_CONNECT_PROTOCOL, 1)),
        "server offers extended CONNECT: {settings:?}"
    );

    // A client that never says hello holds a handshake slot, not the listener.
    let silent = TcpStream::connect(server.http).await.unwrap();
    // Plain HTTP on the TLS port gets no HTTP answer, and the connection closes.
    let mut plain = TcpStream::connect(server.http).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(plain, "plain HTTP on the HTTPS port").await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "answered plain HTTP: {answer:?}"
    );
    let mut again = connect(server.http, &[b"http/1.1"]).await.unwrap();
    assert_eq!(get(&mut again, "/healthz").await.status, 200);
    drop(silent);

    // The redirect listener: 308 to the same path and query on the HTTPS port, any method.
    let redirect = server.http_redirect.unwrap();
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let want = format!("https://127.0.0.1:{}/watch/r1?a=1&b=2", server.http.port());
    let url = format!("http://{redirect}/watch/r1?a=1&b=2");
    for resp in [
        no_follow.get(&url).send().await.unwrap(),
        no_follow.post(&url).body("{}").send().await.unwrap(),
    ] {
        assert_eq!(resp.status(), 308);
        assert_eq!(resp.headers()["location"], want.as_str());
        assert!(
            resp.headers().get("strict-transport-security").is_none(),
            "HSTS means nothing over plain HTTP"
        );
    }
    // Followed, the redirect lands on the HTTPS server.
    let resp = server
        .client
        .get(format!("http://{redirect}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().scheme(), "https");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_over_rtmps_and_plays_over_https_and_wss() {
    let server = TestServer::start_with(|c| {
        c.tls.self_signed = true;
        c.rtmps = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let publisher = push(&clip, &server.rtmps_url("/live/sroom?key=k"));
    server.wait_live("sroom").await;

    // HTTPS-FLV, by ffmpeg (which does not verify certificates unless told to).
    let out = dir.path().join("https.flv");
    let viewer = record(&server.url("/live/sroom.flv"), 3, &out);
    // WS-FLV over WSS at the same time: the FLV header, then tags including video.
    let tls = connect(server.http, &[b"http/1.1"]).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(server.ws_url("/live/sroom.flv"), tls)
        .await
        .expect("WSS upgrade");
    let mut first = None;
    let mut video_tags = 0;
    while video_tags < 25 {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("WSS: no message within 10 s")
            .expect("WSS ended")
            .expect("WSS error");
        if let tokio_tungstenite::tungstenite::Message::Binary(b) = msg {
            if first.is_none() {
                first = Some(b.clone());
            } else if b.first() == Some(&9) {
                video_tags += 1;
            }
        }
    }
    assert!(
        first.unwrap().starts_with(b"FLV"),
        "WSS did not start with the FLV header"
    );
    drop(ws);

    assert!(wait_child(viewer, 20).await, "HTTPS-FLV viewer failed");
    let p = probe(out.to_str().unwrap());
    assert_eq!(p.codec_names(), ["aac", "h264"]);
    assert_eq!(p.video_stream()["width"], 320);
    p.assert_watched(60, "https viewer");

    // RTMP without TLS on the RTMPS port gets no RTMP handshake back.
    let mut plain = TcpStream::connect(server.rtmps.unwrap()).await.unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; 1536]);
    plain.write_all(&c0c1).await.unwrap();
    let answer = read_until_closed(plain, "plain RTMP on the RTMPS port").await;
    assert!(
        answer.first() != Some(&3),
        "answered plain RTMP: {} bytes",
        answer.len()
    );

    assert!(
        wait_child(publisher, 30).await,
        "ffmpeg RTMPS publisher failed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_reaches_new_connections_without_a_restart() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, first) = write_cert(certs.path(), "a");
    let server = TestServer::start_with(|c| {
        c.tls.cert = Some(cert.clone());
        c.tls.key = Some(key.clone());
    })
    .await;
    let mut open = connect(server.http, &[b"http/1.1"]).await.unwrap();
    assert_eq!(leaf_fingerprint(&open), first);
    assert_eq!(get(&mut open, "/healthz").await.status, 200);

    // A broken replacement is refused and the old certificate kept (the watcher looks
    // every 2 s).
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let conn = connect(server.http, &[b"http/1.1"]).await.unwrap();
    assert_eq!(
        leaf_fingerprint(&conn),
        first,
        "a broken file must not replace the cert"
    );

    let (_, _, second) = write_cert(certs.path(), "b");
    assert_ne!(first, second);
    let started = std::time::Instant::now();
    loop {
        let conn = connect(server.http, &[b"http/1.1"]).await.unwrap();
        if leaf_fingerprint(&conn) == second {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new certificate was not served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut fresh = connect(server.http, &[b"http/1.1"]).await.unwrap();
    assert_eq!(get(&mut fresh, "/healthz").await.status, 200);
    // The connection made before the swap goes on, with the certificate it got.
    assert_eq!(get(&mut open, "/healthz").await.status, 200);
    assert_eq!(leaf_fingerprint(&open), first);
    assert!(!server.is_finished(), "the server restarted or stopped");
    drop((open, fresh));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_handlers_get_the_peer_address_and_shutdown_closes_idle_connections() {
    use axum::extract::ConnectInfo;
    use onair_server::tls::{CertFiles, Tls, TlsListener};
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_cert(certs.path(), "peer");
    let tls = Tls::load(CertFiles { cert, key }).unwrap();
    let shutdown = onair_server::shutdown::Shutdown::new();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let caps = onair_server::limits::ConnLimits::new("https", 0, 0, Default::default());
    let listener =
        TlsListener::new(tcp, tls.https.clone(), caps, shutdown.clone(), "https").unwrap();
    let router = axum::Router::new().route(
        "/peer",
        axum::routing::get(
            |ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>| async move { peer.to_string() },
        ),
    );
    let server = tokio::spawn(onair_server::http::https::serve(
        listener,
        router,
        shutdown.clone(),
    ));
    let mut conn = connect(addr, &[b"http/1.1"]).await.unwrap();
    let me = conn.get_ref().0.local_addr().unwrap();
    let r = get(&mut conn, "/peer").await;
    assert_eq!(r.status, 200);
    assert_eq!(String::from_utf8(r.body).unwrap(), me.to_string());
    // The kept-alive connection is idle: the shutdown closes it and `serve` returns.
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("https::serve did not return after the shutdown")
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "connection still open: {n:?}"
    );
}
