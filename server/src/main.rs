//! `onair`: parse the command line, set up logging, bind the listeners and serve until a signal.

use anyhow::Context;
use clap::Parser;
use onair_server::{Listeners, config};
use tokio::net::TcpListener;

/// What is still running after `run` returned (work abandoned past the drain time, e.g. an
/// MP4 being built on the blocking pool) gets this long before the process exits anyway;
/// dropping the runtime would wait for blocking work forever.
const ABANDON_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(serve());
    runtime.shutdown_timeout(ABANDON_AFTER);
    result
}

async fn serve() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let cli = config::Cli::parse();
    if cli.command.is_none() {
        raise_open_file_limit();
    }
    let config = config::Config::load(&cli)?;
    if let Some(command) = &cli.command {
        let mut stdin = std::io::stdin().lock();
        print!("{}", onair_server::cli::run(command, &config, &mut stdin)?);
        return Ok(());
    }
    let http = TcpListener::bind(config.http).await.with_context(|| {
        format!(
            "cannot listen for HTTP on {} (is another server running? use --http)",
            config.http
        )
    })?;
    let rtmp = TcpListener::bind(config.rtmp).await.with_context(|| {
        format!(
            "cannot listen for RTMP on {} (is another server running? use --rtmp)",
            config.rtmp
        )
    })?;
    let rtmps = match config.rtmps {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen for RTMPS on {addr} (is another server running? use --rtmps)")
        })?),
        None => None,
    };
    let http_redirect = match config.http_redirect {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
            format!(
                "cannot listen for the HTTPS redirect on {addr} (port 80 needs privileges; \
                 is another server running? use --http-redirect)"
            )
        })?),
        None => None,
    };
    let scheme = config.http_scheme();
    tracing::info!(
        http = %http.local_addr()?, rtmp = %rtmp.local_addr()?, data = %config.data.display(),
        "onair {} listening; UI at {scheme}://localhost:{}/",
        env!("CARGO_PKG_VERSION"),
        http.local_addr()?.port()
    );
    if let Some(l) = &rtmps {
        tracing::info!(
            "RTMPS on {} (OBS: rtmps://HOST:{}/live)",
            l.local_addr()?,
            l.local_addr()?.port()
        );
    }
    if let Some(l) = &http_redirect {
        tracing::info!("plain HTTP on {} redirects to HTTPS", l.local_addr()?);
    }
    let listeners = Listeners {
        http,
        rtmp,
        rtmps,
        http_redirect,
    };
    onair_server::run(listeners, config, shutdown_signal()).await
}

/// Every viewer and publisher holds a socket: take all the open files the system allows
/// (the soft limit is often 1024 while the hard limit is far higher), and say how many.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft);
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) => tracing::info!(
                "open-file limit: {now} (was {}); about {} viewers fit",
                before.map_or_else(|_| "?".to_string(), |b| b.to_string()),
                now.saturating_sub(64)
            ),
            Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; the drain that follows is bounded by
/// `drain_timeout`.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot watch SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
