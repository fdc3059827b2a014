//! Accounts over real sockets: who may create and manage rooms, key rotation refusing the
//! old key on every ingest, sign-in limits, bad bodies and forged cookies, admin-only
//! statistics, and the first admin's one-time link printed by the real binary.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::TestServer;
use support::accounts::{PASSWORD, status_json};
use support::media::{make_clip, push, wait_child};
use support::rooms::close_code;
use tokio_tungstenite::tungstenite::Message;

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

fn assert_error(status: u16, body: &Value, want: u16, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

#[tokio::test]
async fn owners_manage_their_rooms_and_rotation_refuses_the_old_key() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let ann = server.user("ann", "streamer").await;
    let bob = server.user("bob", "streamer").await;
    let mod_client = server.user("mo", "moderator").await;
    let url = |p: &str| server.url(p);

    // A moderator cannot create rooms; a streamer can.
    let res = mod_client
        .post(url("/api/rooms"))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    let (status, err) = status_json(res).await;
    assert_error(status, &err, 403, "forbidden");
    let res = ann
        .post(url("/api/rooms"))
        .json(&json!({"title": "Ann's"}))
        .send()
        .await
        .unwrap();
    let (status, room) = status_json(res).await;
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let old_key = room["stream_key"].as_str().unwrap().to_string();

    // Another streamer may not close, rotate, change, name moderators or issue tokens.
    for (method, path, body) in [
        ("DELETE", format!("/api/rooms/{id}"), None),
        ("POST", format!("/api/rooms/{id}/key"), None),
        (
            "PATCH",
            format!("/api/rooms/{id}"),
            Some(json!({"title": "mine now"})),
        ),
        ("PUT", format!("/api/rooms/{id}/moderators/mo"), None),
        ("POST", format!("/api/rooms/{id}/tokens"), None),
    ] {
        let mut req = bob.request(method.parse().unwrap(), url(&path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, err) = status_json(req.send().await.unwrap()).await;
        assert_error(status, &err, 403, "forbidden");
    }
    // The owner names a moderator and sees the list; others do not.
    let res = ann
        .put(url(&format!("/api/rooms/{id}/moderators/mo")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, view) = status_json(
        ann.get(url(&format!("/api/rooms/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["moderators"], json!(["mo"]), "{view}");
    let (_, view) = status_json(
        bob.get(url(&format!("/api/rooms/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(view.get("moderators").is_none(), "{view}");
    // ?mine=1 lists only one's own rooms.
    let (_, mine) = status_json(bob.get(url("/api/rooms?mine=1")).send().await.unwrap()).await;
    assert_eq!(mine, json!([]));
    let (_, mine) = status_json(ann.get(url("/api/rooms?mine=1")).send().await.unwrap()).await;
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["moderators"], json!(["mo"]), "{mine}");
    let (status, _) = server.get_json("/api/rooms?mine=1").await;
    assert_eq!(status, 401);

    // Publishing with the key, then rotating: the publisher is cut off and the old key is
    // refused on RTMP, HTTP-FLV and WS-FLV; the new one works.
    let clip = make_clip(data.path(), "clip.flv", 30);
    let ffmpeg = push(
        &clip,
        &server.rtmp_url(&format!("/live/{id}?key={old_key}")),
    );
    server.wait_live(&id).await;
    let res = ann
        .post(url(&format!("/api/rooms/{id}/key")))
        .send()
        .await
        .unwrap();
    let (status, rotated) = status_json(res).await;
    assert_eq!(status, 200, "{rotated}");
    let new_key = rotated["stream_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);
    assert!(
        rotated["push"]["rtmp"]
            .as_str()
            .unwrap()
            .ends_with(&new_key)
    );
    // `wait_child` panics if the old publisher is still pushing 20 s later.
    wait_child(ffmpeg, 20).await;
    let rtmp_old = wait_child(
        push(
            &clip,
            &server.rtmp_url(&format!("/live/{id}?key={old_key}")),
        ),
        20,
    );
    assert!(!rtmp_old.await, "RTMP accepted the old key");
    let bytes = std::fs::read(&clip).unwrap();
    let res = reqwest::Client::new()
        .post(url(&format!("/live/{id}.flv?key={old_key}")))
        .body(bytes[..4096].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "HTTP-FLV accepted the old key");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/live/{id}.flv?key={old_key}")))
            .await
            .unwrap();
    let _ = ws
        .send(Message::Binary(bytes[..4096].to_vec().into()))
        .await;
    assert_eq!(
        close_code(&mut ws).await,
        Some(4403),
        "WS-FLV accepted the old key"
    );
    let mut fresh = push(
        &clip,
        &server.rtmp_url(&format!("/live/{id}?key={new_key}")),
    );
    server.wait_live(&id).await;

    // The owner closes the room: the stream ends.
    let res = ann
        .delete(url(&format!("/api/rooms/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["status"], "closed");
    let _ = fresh.kill();
    let _ = fresh.wait();
    server.stop().await;
}

#[tokio::test]
async fn sign_in_limits_bad_bodies_and_forged_cookies() {
    let server = TestServer::start().await;
    server.add_user("carol", "streamer").await;
    server.add_user("dave", "streamer").await;
    let client = reqwest::Client::new();
    let sign_in = |name: &str, password: &str| {
        client
            .post(server.url("/api/session"))
            .json(&json!({"name": name, "password": password}))
            .send()
    };
    // Five wrong passwords for carol, then 429 with Retry-After — even with the right one.
    for _ in 0..5 {
        let (status, err) = status_json(sign_in("carol", "wrong password").await.unwrap()).await;
        assert_error(status, &err, 401, "unauthorized");
    }
    let res = sign_in("carol", PASSWORD).await.unwrap();
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    let (status, err) = status_json(res).await;
    assert_error(status, &err, 429, "too_many_requests");
    // Another account from the same address is not locked out by carol's failures.
    let res = sign_in("dave", PASSWORD).await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // An unknown name is the same 401 as a wrong password.
    let (status, err) = status_json(sign_in("nobody", PASSWORD).await.unwrap()).await;
    assert_error(status, &err, 401, "unauthorized");

    // Bodies: not JSON 415, oversized 413, malformed 400.
    let post = |ct: &str, body: Vec<u8>| {
        client
            .post(server.url("/api/session"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let (status, err) = status_json(post("text/plain", b"name=x".to_vec()).await.unwrap()).await;
    assert_error(status, &err, 415, "unsupported_media_type");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(100_000)).into_bytes();
    let (status, err) = status_json(post("application/json", big).await.unwrap()).await;
    assert_error(status, &err, 413, "payload_too_large");
    let (status, err) =
        status_json(post("application/json", b"{nope".to_vec()).await.unwrap()).await;
    assert_error(status, &err, 400, "bad_request");
    // A cross-site POST is refused before anything runs.
    let res = client
        .post(server.url("/api/session"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "dave", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, err) = status_json(res).await;
    assert_error(status, &err, 403, "forbidden");

    // A forged or stale cookie: 401 where a session is needed; public reads still work.
    let forged = |path: &str| {
        client
            .get(server.url(path))
            .header("cookie", "onair_session=forged-token-value")
            .send()
    };
    let (status, err) = status_json(forged("/api/session").await.unwrap()).await;
    assert_error(status, &err, 401, "unauthorized");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{err}"
    );
    assert_eq!(forged("/api/rooms").await.unwrap().status(), 200);
    assert_eq!(forged("/healthz").await.unwrap().status(), 200);

    // Sign out ends the session.
    let dave = server.sign_in("dave").await;
    let session = server.url("/api/session");
    assert_eq!(status_of(dave.get(&session)).await, 200);
    assert_eq!(status_of(dave.delete(&session)).await, 204);
    let (status, me) = status_json(dave.get(&session).send().await.unwrap()).await;
    assert_eq!(
        (status, &me["user"]),
        (200, &Value::Null),
        "signed out: {me}"
    );

    // Admin-only: users and statistics; a streamer gets 403, the bearer token 200.
    let streamer = server.sign_in("dave").await;
    for path in ["/api/users", "/api/streams", "/metrics"] {
        let res = streamer.get(server.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
        let (status, _) = server.admin_json(path).await;
        assert_eq!(status, 200, "{path}");
    }
    // Sign-up is closed unless configured.
    let res = client
        .post(server.url("/api/signup"))
        .json(&json!({"name": "eve", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    server.stop().await;
}

#[tokio::test]
async fn open_signup_and_public_metrics_when_configured() {
    let server = TestServer::start_with(|c| {
        c.open_signup = true;
        c.metrics_public = true;
    })
    .await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(server.url("/api/signup"))
        .json(&json!({"name": "eve", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"], json!({"name": "eve", "role": "streamer"}));
    let res = client
        .post(server.url("/api/rooms"))
        .json(&json!({"title": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "a signed-up streamer creates rooms");
    let weak = client
        .post(server.url("/api/signup"))
        .json(&json!({"name": "frank", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 400);
    for path in ["/metrics", "/api/streams"] {
        assert_eq!(
            reqwest::get(server.url(path)).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    server.stop().await;
}

/// The real binary, on a fresh data directory, prints a one-time link; it signs in as the
/// admin, who sets a password; the link then no longer works.
#[tokio::test]
async fn first_start_prints_a_one_time_admin_link() {
    let data = tempfile::tempdir().unwrap();
    let port = |_| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (http, rtmp) = (port(0), port(1));
    let mut child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .args([
            "--http",
            &http.to_string(),
            "--rtmp",
            &rtmp.to_string(),
            "--data",
        ])
        .arg(data.path())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start onair");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (limit_tx, limit_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("open-file limit: ") {
                let _ = limit_tx.send(line.clone());
            }
            if let Some(at) = line.find("signin?link=") {
                let link: String = line[at + 12..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                let _ = tx.send(link);
            }
        }
    });
    let link = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no sign-in link printed");
    // The server also said how many open files (sockets) it may hold.
    let limit = limit_rx
        .recv_timeout(Duration::from_secs(1))
        .expect("no open-file limit logged");
    assert!(limit.contains("viewers fit"), "{limit}");
    let base = format!("http://{http}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/api/session"))
        .json(&json!({"link": link}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["must_set_password"], true);
    let res = client
        .put(format!("{base}/api/session/password"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, users) = status_json(
        client
            .get(format!("{base}/api/users"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "the admin's session still works: {users}");
    let again = reqwest::Client::new()
        .post(format!("{base}/api/session"))
        .json(&json!({"link": link}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "the link is one-time");
    let res = reqwest::Client::new()
        .post(format!("{base}/api/session"))
        .json(&json!({"name": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the admin signs in with the new password"
    );
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}
