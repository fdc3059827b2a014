//! The real `onair` binary's `user` and `room` commands on the data directory of a running
//! server: a user added by the CLI signs in over HTTP, and `room close` / `room rotate-key`
//! end the live stream within seconds (the server watches the database).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::TestServer;
use support::media::{make_clip, push};

fn onair(data: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run onair");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "onair {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn wait_not_live(server: &TestServer, id: &str) {
    for _ in 0..100 {
        let streams = server.streams().await;
        if !streams.to_string().contains(id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the stream of {id} did not end within 10 s: {}",
        server.streams().await
    );
}

#[tokio::test]
async fn cli_users_and_rooms_act_on_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let out = onair(
        data.path(),
        &["user", "add", "zoe", "--password-stdin"],
        "zoe's password\n",
    );
    assert!(out.contains("user added: zoe (streamer)"), "{out}");
    let zoe = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = zoe
        .post(server.url("/api/session"))
        .json(&json!({"name": "zoe", "password": "zoe's password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list = onair(data.path(), &["user", "list"], "");
    assert!(list.contains("zoe") && list.contains("streamer"), "{list}");

    let out = onair(
        data.path(),
        &["room", "create", "CLI show", "--owner", "zoe"],
        "",
    );
    let obs = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("stream key: "))
        .unwrap();
    let (id, key) = obs.split_once("?key=").unwrap();
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["owner"], "zoe");

    // rotate-key from the CLI ends the stream published with the old key.
    let clip = make_clip(data.path(), "clip.flv", 30);
    let mut first = push(&clip, &server.rtmp_url(&format!("/live/{id}?key={key}")));
    server.wait_live(id).await;
    let out = onair(data.path(), &["room", "rotate-key", id], "");
    let new_key = out
        .lines()
        .find_map(|l| l.strip_prefix("stream key (shown only now): "))
        .unwrap()
        .to_string();
    wait_not_live(&server, id).await;
    let _ = first.kill();
    let _ = first.wait();

    // close from the CLI ends the stream published with the new key.
    let mut second = push(
        &clip,
        &server.rtmp_url(&format!("/live/{id}?key={new_key}")),
    );
    server.wait_live(id).await;
    onair(data.path(), &["room", "close", id], "");
    wait_not_live(&server, id).await;
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["status"], "closed");
    let rooms = onair(data.path(), &["room", "list"], "");
    assert!(rooms.contains(id) && rooms.contains("closed"), "{rooms}");
    let _ = second.kill();
    let _ = second.wait();
    server.stop().await;
}
