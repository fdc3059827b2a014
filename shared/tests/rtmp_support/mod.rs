//! Helpers for the real-client RTMP tests: a child-process guard, accepting with a
//! deadline, FLV files as play-session media, and a blocking loop that drives a
//! `ServerSession` over a `TcpStream`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use onair_shared::rtmp::handshake::HANDSHAKE_RANDOM_LEN;
use onair_shared::rtmp::media::{MediaKind, media_message};
use onair_shared::rtmp::{ServerSession, SessionConfig, SessionEvent};

#[path = "../container_support/mod.rs"]
mod container_support;
use container_support::flv_tags;

/// Kills the child on drop, so a failing test does not leave encoders running.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl ChildGuard {
    /// Waits up to `timeout` for the child to exit; returns its status and stdout. Reads
    /// stdout while waiting so a chatty child cannot block on a full pipe.
    pub fn wait_exit_stdout(&mut self, timeout: Duration) -> (ExitStatus, String) {
        let mut stdout = self.0.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let (status, _) = self.wait_exit(timeout);
        (status, reader.join().unwrap())
    }

    /// Waits up to `timeout` for the child to exit; returns its status and stderr.
    pub fn wait_exit(&mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.0.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return (status, err);
            }
            assert!(
                Instant::now() < deadline,
                "client did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// True if `program` can be run (e.g. `ffmpeg -version`). A missing real client fails the
/// test (`cargo xtask test` installs them all) unless `ONAIR_SKIP_E2E=1` says this machine
/// cannot have it, in which case the test says loudly that it skipped.
pub fn have(program: &str, arg: &str) -> bool {
    let ok = Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("ONAIR_SKIP_E2E").as_deref() != Ok("1") {
        panic!(
            "{program} is not installed: run `cargo xtask test` (it installs the real clients) or set ONAIR_SKIP_E2E=1"
        );
    }
    ok
}

/// Starts `program args…` with stderr captured.
pub fn spawn(program: &str, args: &[&str]) -> ChildGuard {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    ChildGuard(child)
}

/// Starts `program args…` with stdout captured (stderr inherited).
pub fn spawn_with_stdout(program: &str, args: &[&str]) -> ChildGuard {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    ChildGuard(child)
}

/// The number of video tags in a whole FLV file.
pub fn flv_video_tags(flv: &[u8]) -> usize {
    flv_tags(flv)
        .iter()
        .filter(|t| t.kind == MediaKind::Video)
        .count()
}

/// Appends every tag of an FLV file as a play-session media message, chunked the way a
/// server shares it among viewers (built without the session).
pub fn write_flv_as_media(flv: &[u8], chunk_size: u32, out: &mut BytesMut) {
    for tag in flv_tags(flv) {
        out.extend_from_slice(&media_message(
            tag.kind,
            tag.timestamp,
            &tag.data,
            chunk_size,
        ));
    }
}

/// A listener on a free loopback port and the RTMP URL `rtmp://127.0.0.1:PORT{path}` of it.
pub fn listen(path: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "rtmp://127.0.0.1:{}{path}",
        listener.local_addr().unwrap().port()
    );
    (listener, url)
}

/// Serves a play session on `stream` until the client closes it: the play request is
/// accepted and answered with every tag of `flv` and the stream's EOF. Returns the name
/// the client asked to play.
pub fn serve_flv(
    stream: &mut TcpStream,
    session: &mut ServerSession,
    flv: &[u8],
) -> Option<String> {
    let mut played = None;
    drive(stream, session, |session, event, out| {
        if let SessionEvent::PlayRequested { stream_id, name } = event {
            played = Some(name);
            assert_eq!(stream_id, 1, "shared media bytes assume stream 1");
            session.accept_play(stream_id, out);
            write_flv_as_media(flv, session.chunk_size(), out);
            session.send_stream_eof(stream_id, out);
        }
    });
    played
}

/// Accepts one connection, failing if none arrives in 30 s or the client exits first.
pub fn accept(listener: &TcpListener, child: &mut ChildGuard) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                stream.set_nodelay(true).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.0.try_wait().unwrap() {
                    let (_, err) = child.wait_exit(Duration::from_secs(1));
                    panic!("client exited ({status}) before connecting: {err}");
                }
                assert!(Instant::now() < deadline, "no connection in 30 s");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A session with a fixed, non-trivial S1 filler (tests need no real randomness).
pub fn new_session() -> ServerSession {
    let mut random = [0u8; HANDSHAKE_RANDOM_LEN];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    ServerSession::new(SessionConfig::default(), &random)
}

/// Reads from `stream` until the peer closes it, feeding the session and writing its
/// output back. `on_event` may write more (accept_publish, media, …) into the buffer.
pub fn drive(
    stream: &mut TcpStream,
    session: &mut ServerSession,
    mut on_event: impl FnMut(&mut ServerSession, SessionEvent, &mut BytesMut),
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            // The client may reset the connection once it has what it wants.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("read: {e}"),
        };
        let mut out = BytesMut::new();
        let events = session
            .handle_input(&buf[..n], &mut out)
            .unwrap_or_else(|e| panic!("session error: {e}"));
        for event in events {
            on_event(session, event, &mut out);
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}
