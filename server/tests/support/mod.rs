//! A real server on loopback ports chosen by the OS, stopped when the handle drops.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use onair_server::{Config, Listeners};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub mod accounts;
/// `flv_tags` and `ogg_packets`: whole FLV and Ogg files read back (one copy, in
/// onair-shared's test support).
#[path = "../../../shared/tests/container_support/mod.rs"]
pub mod container;
pub mod media;
pub mod rooms;
pub mod tls;

/// Every test server accepts this as an admin's bearer token.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct TestServer {
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    /// Bound when the tweaked config asks for RTMPS (any address: the harness binds
    /// 127.0.0.1:0 instead and writes the real one back).
    pub rtmps: Option<SocketAddr>,
    /// Likewise for `http_redirect`.
    pub http_redirect: Option<SocketAddr>,
    pub data: PathBuf,
    /// Whether the HTTP port speaks HTTPS: `url` and the helpers follow it.
    pub tls: bool,
    /// An HTTP client for this server; under TLS it accepts the server's certificate.
    pub client: reqwest::Client,
    /// The temporary data directory, when the test did not bring its own.
    _temp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// A signed-in streamer (cookie session), made on first use by `streamer()`.
    streamer: tokio::sync::OnceCell<reqwest::Client>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose config `tweak` may change (open publishing is on by default here),
    /// on a temporary data directory.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let mut server = Self::start_in(temp.path(), tweak).await;
        server._temp = Some(temp);
        server
    }

    /// A server on a data directory the test owns, so it can be stopped and started again
    /// on the same database and recordings.
    pub async fn start_in(data: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let rtmp = TcpListener::bind("127.0.0.1:0").await.expect("bind rtmp");
        let (http_addr, rtmp_addr) = (http.local_addr().unwrap(), rtmp.local_addr().unwrap());
        let config = Config {
            http: http_addr,
            rtmp: rtmp_addr,
            data: data.to_path_buf(),
            open_publish: true,
            // Well inside `stop`'s 10 s, so a stuck drain fails as a drain, not a timeout.
            drain_timeout: std::time::Duration::from_secs(5),
            admin_token: Some(ADMIN_TOKEN.into()),
            ..Config::default()
        };
        let mut config = config;
        tweak(&mut config);
        let rtmps = bind_if_asked(&mut config.rtmps).await;
        let http_redirect = bind_if_asked(&mut config.http_redirect).await;
        let (rtmps_addr, redirect_addr) = (config.rtmps, config.http_redirect);
        let tls = config.tls.enabled();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(onair_server::run(
            Listeners {
                http,
                rtmp,
                rtmps,
                http_redirect,
            },
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            http: http_addr,
            rtmp: rtmp_addr,
            rtmps: rtmps_addr,
            http_redirect: redirect_addr,
            data: data.to_path_buf(),
            tls,
            client: reqwest::Client::builder()
                .danger_accept_invalid_certs(tls)
                .build()
                .expect("reqwest client"),
            _temp: None,
            stop: Some(tx),
            task: Some(task),
            streamer: tokio::sync::OnceCell::new(),
        }
    }

    /// `rtmps://127.0.0.1:PORT/path`; panics unless the config asked for RTMPS.
    pub fn rtmps_url(&self, path: &str) -> String {
        format!(
            "rtmps://{}{}",
            self.rtmps.expect("started without rtmps"),
            path
        )
    }

    /// `http://` (or `https://` under TLS) `127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.http, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.http, path)
    }

    pub fn rtmp_url(&self, path: &str) -> String {
        format!("rtmp://{}{}", self.rtmp, path)
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `/api/streams` as JSON.
    pub async fn streams(&self) -> serde_json::Value {
        self.client
            .get(self.url("/api/streams"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until `live/ROOM` is live with a video config (its publisher got going).
    pub async fn wait_live(&self, room: &str) {
        let key = format!("live/{room}");
        for _ in 0..200 {
            let streams = self.streams().await;
            let live =
                streams.as_array().unwrap().iter().any(|s| {
                    s["key"] == key.as_str() && s["live"] == true && !s["video"].is_null()
                });
            if live {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "stream {key} did not go live within 10 s: {}",
            self.streams().await
        );
    }

    /// Whether the server task has ended (it should not, before `stop`).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the server and waits for it: graceful shutdown must finish, and cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let res = tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .expect("server did not shut down within 10 s");
            res.expect("server task panicked")
                .expect("server returned an error");
        }
    }
}

/// An optional listener the config asks for: bound on a loopback port chosen by the OS,
/// with the address it got written back into the config.
async fn bind_if_asked(addr: &mut Option<SocketAddr>) -> Option<TcpListener> {
    addr.as_ref()?;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    *addr = Some(listener.local_addr().unwrap());
    Some(listener)
}
