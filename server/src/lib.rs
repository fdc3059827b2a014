//! The onair server: one binary for ingest, fan-out, packaging, rooms and the web UI.
//!
//! # Layout
//! - [`config`]: command line, TOML file and `ONAIR_*` environment, merged into [`Config`].
//! - [`http`]: `app(state) -> Router`: health, API routes and the client assets.
//! - [`assets`]: the client built by trunk (`dist/`), embedded in release builds.
//! - [`media`]: [`media::Packet`], one parsed message shared (and serialized once per
//!   format) by every output.
//! - [`hub`]: streams, GOP cache, fan-out, republish grace, the slow-viewer policy.
//! - [`live`]: `/live/ROOM.flv` — HTTP-FLV and WS-FLV push and play.
//! - [`hls`]: `/hls/live/ROOM/…` — a packager per stream: CMAF LL-HLS and MPEG-TS HLS.
//! - [`rtmp`]: RTMP publish and play on `--rtmp`, and RTMPS on `--rtmps`.
//! - [`tls`]: HTTPS/WSS and RTMPS: the certificate (reloaded when its files change, or
//!   self-signed for LAN testing) and [`tls::TlsListener`], which hands out finished
//!   handshakes. With TLS on, the HTTP port speaks HTTPS only ([`http::https`]: h2 and
//!   HTTP/1.1, WebSockets over HTTP/1.1); `--http-redirect` serves a plain port that
//!   redirects to it ([`http::redirect`]).
//! - [`auth`]: the one publish-authorization interface every ingest asks.
//! - [`record`]: FLV and MP4 (`moov` first) recordings, `/api/recordings`, `/vod/…`.
//! - [`rooms`]: rooms in SQLite (hashed stream keys, owners, visibility), `/api/rooms`,
//!   private-room play tokens and the media access check, chat, the publish check.
//! - [`accounts`]: admins, streamers, moderators; argon2id passwords, session cookies,
//!   sign-in limits, the first admin's one-time link; [`cli`]: `onair user|room …`.
//! - [`secret`]: random tokens, SHA-256, HMAC, base64.
//! - [`codecs`], [`metrics`]: stream descriptions for `/api/streams`; Prometheus counters.
//! - [`shutdown`]: the one shutdown signal every task hears, and the tracker of what the
//!   drain waits for (recordings, playlists, publishers, viewers, connections).
//! - [`run`]: binds nothing itself; serves the [`Listeners`] it is given until `shutdown` resolves,
//!   so tests bind port 0 and drive real sockets. Then it stops accepting, ends every stream,
//!   and waits at most `drain_timeout` for the tracked work; at start-up it recovers the
//!   recordings a crash left behind ([`record::recover`]).

pub mod accounts;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod codecs;
pub mod config;
pub mod error;
pub mod hls;
pub mod http;
pub mod hub;
pub mod limits;
pub mod live;
pub mod media;
pub mod metrics;
pub mod publish;
pub mod record;
pub mod rooms;
pub mod rtmp;
pub mod secret;
pub mod shutdown;
pub mod tls;
pub mod utc;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use config::Config;
use tokio::net::TcpListener;

/// State shared by every handler and connection task.
pub struct AppState {
    pub config: Config,
    pub started: std::time::Instant,
    pub hub: Arc<hub::Hub>,
    pub auth: Arc<dyn auth::PublishAuth>,
    pub metrics: Arc<metrics::Metrics>,
    pub hls: Arc<hls::Hls>,
    pub rooms: Arc<rooms::Rooms>,
    pub accounts: Arc<accounts::Accounts>,
    /// `config.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<http::site::Cidr>,
    /// Heard by every long-lived task; tracks what a shutdown waits for.
    pub shutdown: Arc<shutdown::Shutdown>,
}

impl AppState {
    /// State for `config`, with the publish check it asks for.
    pub fn new(config: Config) -> Arc<Self> {
        let publishing = rooms::Publishing::default();
        let auth: Arc<dyn auth::PublishAuth> = if config.open_publish {
            tracing::warn!(
                "--open-publish: anyone may publish any stream name with any key \
                 (DEVELOPMENT ONLY: never on a server others can reach)"
            );
            Arc::new(auth::OpenPublish)
        } else {
            Arc::new(rooms::RoomAuth::open(&config.data, publishing.clone()))
        };
        Self::with_auth(config, auth, publishing)
    }

    pub fn with_auth(
        config: Config,
        auth: Arc<dyn auth::PublishAuth>,
        publishing: rooms::Publishing,
    ) -> Arc<Self> {
        let metrics = Arc::new(metrics::Metrics::default());
        let hub_config = hub::HubConfig {
            republish_grace: config.republish_grace,
            max_viewer_lag: config.max_viewer_lag,
            ..hub::HubConfig::default()
        };
        let hub = hub::Hub::new(hub_config, metrics.clone());
        let shutdown = shutdown::Shutdown::new();
        let hls = hls::Hls::start(&hub, config.hls.clone(), &shutdown);
        let _ = record::Recorder::start(&hub, &config.data, config.record.clone(), &shutdown);
        let rooms = rooms::Rooms::open(&config.data, hub.clone(), publishing);
        rooms.watch(&shutdown);
        Arc::new(Self {
            shutdown,
            rooms,
            accounts: accounts::Accounts::open(&config.data),
            trusted_proxies: config.trusted_proxy_ranges(),
            hub,
            hls,
            config,
            started: std::time::Instant::now(),
            auth,
            metrics,
        })
    }
}

/// Listeners the server runs on; bound by the caller (port 0 in tests).
pub struct Listeners {
    /// HTTP and WebSocket; HTTPS and WSS only when TLS is configured.
    pub http: TcpListener,
    pub rtmp: TcpListener,
    /// RTMPS (`--rtmps`); needs TLS.
    pub rtmps: Option<TcpListener>,
    /// Plain HTTP that redirects to HTTPS (`--http-redirect`); needs TLS.
    pub http_redirect: Option<TcpListener>,
}

/// Listener tasks `run` watches: a name for the log, and the task.
type ListenerTask = (&'static str, tokio::task::JoinHandle<anyhow::Result<()>>);

/// Serves until `shutdown` resolves, then shuts down without losing anything: stops
/// accepting, ends every stream (viewers get the end, playlists `EXT-X-ENDLIST`, recordings
/// their MP4), tells every connection to close, and waits for all of it at most
/// `config.drain_timeout`; past that it returns anyway, naming what it abandoned.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data directory {}: {e}",
            config.data.display()
        )
    })?;
    rooms::preflight(&config.data)?;
    let tls = tls::Tls::from_config(&config)?;
    if tls.is_none() && (listeners.rtmps.is_some() || listeners.http_redirect.is_some()) {
        anyhow::bail!(
            "RTMPS and the HTTPS redirect need TLS (--tls-cert/--tls-key or --tls-self-signed)"
        );
    }
    let drain_timeout = config.drain_timeout;
    let state = AppState::new(config);
    let stop = state.shutdown.clone();
    announce_first_admin_link(&state);
    // Nothing records yet, so every recording without its MP4 is a crash's leftover.
    record::recover::start(&state.config.data, &state.config.record, &stop);
    if let Some(tls) = &tls {
        tls.watch(&stop);
    }

    let mut tasks: Vec<ListenerTask> = Vec::new();
    let caps = |name| {
        limits::ConnLimits::new(
            name,
            state.config.max_connections,
            state.config.max_connections_per_ip,
            state.metrics.clone(),
        )
    };
    let rtmp_name = format!("rtmp {}", listeners.rtmp.local_addr()?);
    let rtmp_tracked = stop.track("listener", rtmp_name);
    tasks.push((
        "RTMP",
        tokio::spawn(rtmp::serve(
            listeners.rtmp,
            state.clone(),
            caps("rtmp"),
            rtmp_tracked,
        )),
    ));
    if let (Some(tcp), Some(tls)) = (listeners.rtmps, &tls) {
        let tracked = stop.track("listener", format!("rtmps {}", tcp.local_addr()?));
        let listener =
            tls::TlsListener::new(tcp, tls.rtmps.clone(), caps("rtmps"), stop.clone(), "rtmps")?;
        tasks.push((
            "RTMPS",
            tokio::spawn(rtmp::serve_tls(listener, state.clone(), tracked)),
        ));
    }
    let http_addr = listeners.http.local_addr()?;
    if let Some(tcp) = listeners.http_redirect {
        let tracked = stop.track("listener", format!("http redirect {}", tcp.local_addr()?));
        let server = axum::serve(tcp, http::redirect::app(http_addr.port()))
            .with_graceful_shutdown(stop.triggered_owned());
        tasks.push((
            "HTTP redirect",
            tokio::spawn(async move {
                let _tracked = tracked;
                Ok(server.await?)
            }),
        ));
    }
    let http_tracked = stop.track(
        "listener",
        format!(
            "{} {http_addr} (open requests)",
            if tls.is_some() { "https" } else { "http" }
        ),
    );
    // Handlers may take `ConnectInfo<SocketAddr>` (the peer), in both modes.
    let router = http::app(state.clone());
    let server: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match &tls {
        None => {
            use axum::serve::ListenerExt;
            let http = listeners.http.tap_io(|tcp| tune_socket(tcp));
            let http = limits::Limited::new(http, caps("http"));
            let stop = stop.clone();
            Box::pin(async move {
                http::https::serve(http, router, stop).await;
                Ok(())
            })
        }
        Some(tls) => {
            let https = tls::TlsListener::new(
                listeners.http,
                tls.https.clone(),
                caps("https"),
                stop.clone(),
                "https",
            )?;
            let stop = stop.clone();
            Box::pin(async move {
                http::https::serve(https, router, stop).await;
                Ok(())
            })
        }
    };
    tasks.push((
        "HTTP",
        tokio::spawn(async move {
            let _tracked = http_tracked;
            Ok(server.await?)
        }),
    ));

    tokio::select! {
        _ = shutdown => {}
        (r, i, _) = futures_util::future::select_all(tasks.iter_mut().map(|(_, t)| t)) => {
            r??;
            anyhow::bail!("the {} server stopped by itself", tasks[i].0);
        }
    }
    stop.trigger();
    let ended = state.hub.end_all();
    tracing::info!(
        "shutting down: ended {} stream(s) [{}]; draining for at most {drain_timeout:?}",
        ended.len(),
        ended.join(", ")
    );
    match stop.drain(drain_timeout).await {
        Ok(()) => tracing::info!("shutdown complete: nothing left to wait for"),
        Err(abandoned) => tracing::warn!("{abandoned}; exiting anyway"),
    }
    // Report a listener that failed while draining; one still running is abandoned.
    for (_, task) in tasks {
        if task.is_finished() {
            task.await??;
        }
    }
    Ok(())
}

/// With no admin who can sign in yet, prints a one-time link that signs in as `admin` (who
/// then sets a password). A new link at every start until then.
fn announce_first_admin_link(state: &AppState) {
    match state.accounts.first_admin_link() {
        Ok(Some(link)) => {
            let scheme = if state.config.serves_https() {
                "https"
            } else {
                "http"
            };
            let base =
                state.config.site.clone().unwrap_or_else(|| {
                    format!("{scheme}://localhost:{}", state.config.http.port())
                });
            tracing::warn!(
                "no admin account yet: open {}/signin?link={link} within 24 h to sign in as \
                 admin and set a password (a new link is printed at every start until then)",
                base.trim_end_matches('/')
            );
        }
        Ok(None) => {}
        Err(e) => tracing::error!("cannot make the first admin's sign-in link: {e}"),
    }
}

/// Per-connection socket settings for media connections.
///
/// The send buffer is capped so a viewer's lag shows up in the hub (which skips it to a
/// keyframe) instead of hiding in megabytes of kernel buffer, and a peer that acknowledges
/// nothing for a minute is dropped by the kernel.
pub fn tune_socket(tcp: &tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
    let sock = socket2::SockRef::from(tcp);
    let _ = sock.set_send_buffer_size(SEND_BUFFER);
    #[cfg(target_os = "linux")]
    let _ = sock.set_tcp_user_timeout(Some(std::time::Duration::from_secs(60)));
}

/// 256 KiB (Linux doubles it): about a second of a 2 Mbit/s stream.
const SEND_BUFFER: usize = 256 * 1024;
