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
//! - [`rtmp`]: RTMP publish and play on `--rtmp`.
//! - [`auth`]: the one publish-authorization interface every ingest asks.
//! - [`record`]: FLV and MP4 (`moov` first) recordings, `/api/recordings`, `/vod/…`.
//! - [`rooms`]: rooms in SQLite (hashed stream keys), `/api/rooms`, chat, the publish check.
//! - [`codecs`], [`metrics`]: stream descriptions for `/api/streams`; Prometheus counters.
//! - [`run`]: binds nothing itself; serves the listeners it is given until `shutdown` resolves,
//!   so tests bind port 0 and drive real sockets.

pub mod assets;
pub mod auth;
pub mod codecs;
pub mod config;
pub mod hls;
pub mod http;
pub mod hub;
pub mod live;
pub mod media;
pub mod metrics;
pub mod record;
pub mod rooms;
pub mod rtmp;
pub mod shutdown;
pub mod utc;

use std::future::Future;
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
}

impl AppState {
    /// State for `config`, with the publish check it asks for.
    pub fn new(config: Config) -> Arc<Self> {
        let auth: Arc<dyn auth::PublishAuth> = if config.open_publish {
            tracing::warn!("--open-publish: anyone may publish any stream (development only)");
            Arc::new(auth::OpenPublish)
        } else {
            Arc::new(rooms::RoomAuth::open(&config.data))
        };
        Self::with_auth(config, auth)
    }

    pub fn with_auth(config: Config, auth: Arc<dyn auth::PublishAuth>) -> Arc<Self> {
        let metrics = Arc::new(metrics::Metrics::default());
        let hub_config = hub::HubConfig {
            republish_grace: config.republish_grace,
            max_viewer_lag: config.max_viewer_lag,
            ..hub::HubConfig::default()
        };
        let hub = hub::Hub::new(hub_config, metrics.clone());
        let hls = hls::Hls::start(&hub, config.hls.clone());
        let _ = record::Recorder::start(&hub, &config.data, config.record.clone());
        Arc::new(Self {
            rooms: rooms::Rooms::open(&config.data, hub.clone()),
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
    pub http: TcpListener,
    pub rtmp: TcpListener,
}

/// Serves until `shutdown` resolves, then stops accepting and lets open requests finish.
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
    let state = AppState::new(config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rtmp_task = tokio::spawn(rtmp::serve(listeners.rtmp, state.clone(), stop_rx.clone()));
    let router = http::app(state.clone());
    let mut http_stop = stop_rx;
    use axum::serve::ListenerExt;
    let http = listeners.http.tap_io(|tcp| tune_socket(tcp));
    let server = axum::serve(http, router).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|stopped| *stopped).await;
    });
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    server.await?;
    rtmp_task.await??;
    Ok(())
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
