//! `onair-bench`: measures a live-streaming server's fan-out. It publishes a test stream
//! itself (paced in real time, so it knows when every media timestamp left), opens N
//! HTTP-FLV, WS-FLV or RTMP viewers for D seconds, and prints one table row: viewers
//! ok/failed, delivered rate, per-viewer rate, time to first frame, lag, and the server's
//! CPU and memory from `/proc`. It only needs URLs and PIDs, so the same run measures
//! onair and nginx-rtmp side by side (`cargo xtask bench fanout --against nginx`).
//!
//! `onair-bench chat` measures chat fan-out instead: M members in one room, R comments/s and
//! L likes/s, delivery latency and the server's cost ([`chat`]).
//!
//! # Layout
//! - `main.rs`: the command line, the run's timeline, sampling and the summary.
//! - [`media`]: the test stream (made once with ffmpeg, cached), loaded as tags, looped.
//! - [`pusher`]: the paced publisher (RTMP or HTTP-FLV POST) and its media clock.
//! - [`viewer`]: the light viewers and their per-viewer measurements.
//! - [`flv_scan`]: FLV tag-header scanner and HTTP chunked decoder (no copies).
//! - [`rtmp_client`]: minimal RTMP client (handshake, connect, publish, play, acks).
//! - [`rtmp_chunks`]: client-side chunk scanner that skips media payloads.
//! - [`procstat`]: CPU seconds and RSS of the server's processes.
//! - [`summary`]: counter snapshots and the summary (row + notes) computed from them.
//! - [`report`]: percentiles and the table.
//! - [`chat`], [`chat_member`]: the chat benchmark and its members.

mod chat;
mod chat_member;
mod flv_scan;
mod media;
mod procstat;
mod pusher;
mod report;
mod rtmp_chunks;
mod rtmp_client;
mod summary;
mod viewer;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};

use pusher::{PushStats, PushTarget};
use rtmp_client::RtmpUrl;
use summary::{Summary, snapshot};
use viewer::{Counters, PlayTarget, Timeline};

#[derive(Debug, Parser)]
#[command(
    name = "onair-bench",
    version,
    about = "Fan-out benchmark for live-streaming servers (onair, nginx-rtmp, …)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish one stream, open N viewers of it for D seconds, print a table row.
    Fanout(FanoutArgs),
    /// M chat members in one room, R comments/s and L likes/s: latency, rates, server cost.
    Chat(chat::ChatArgs),
}

#[derive(Debug, clap::Args)]
struct FanoutArgs {
    /// Where to publish: rtmp://HOST:PORT/APP/NAME[?key=K] or, POSTing FLV,
    /// http://HOST:PORT/live/NAME.flv?key=K
    #[arg(long, value_name = "URL")]
    push: String,
    /// What the viewers play: http://HOST:PORT/live/NAME.flv, ws://HOST:PORT/live/NAME.flv
    /// or rtmp://HOST:PORT/APP/NAME
    #[arg(long, value_name = "URL")]
    play: String,
    /// Number of viewers
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// How long the viewers stay after the last one joined (e.g. 30s, 1m)
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Viewer starts are spread evenly over this span (0 = all at once)
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    join_within: Duration,
    /// Publish this long before the first viewer joins (≥ one GOP, so a cache is full)
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// The steady window starts this long after the last viewer joined
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    settle: Duration,
    /// Server process to measure (repeatable); its descendants are included (nginx workers)
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
    /// Measure every process with this command name (e.g. nginx)
    #[arg(long, value_name = "NAME")]
    server_pids_of: Option<String>,
    /// Name of the server under test, for the table
    #[arg(long, default_value = "server")]
    label: String,
    /// FLV file to publish [default: target/bench/stream-2mbps-720p30.flv, made with ffmpeg]
    #[arg(long, value_name = "FILE")]
    media: Option<PathBuf>,
    /// Runtime threads for the viewers (1 = a current-thread runtime)
    #[arg(long, default_value_t = 1)]
    viewer_threads: usize,
    /// Read buffer per viewer, bytes
    #[arg(long, default_value_t = 32 << 10)]
    read_buf: usize,
    /// A viewer is ok when it received at least this fraction of the stream's media rate
    #[arg(long, default_value_t = 0.9)]
    ok_ratio: f64,
    /// Allow non-loopback server addresses (never on shared machines)
    #[arg(long)]
    allow_remote: bool,
}

/// Parses `30`, `30s`, `500ms`, `1.5s`, `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?} (use e.g. 30s, 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

/// `host[:port]` or `[v6][:port]`.
pub fn split_host_port(authority: &str, default_port: u16) -> anyhow::Result<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| anyhow!("unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().with_context(|| format!("bad port {p:?}"))?,
        None => default_port,
    };
    if host.is_empty() {
        bail!("empty host");
    }
    Ok((host.to_string(), port))
}

/// A connect error, with the fix spelled out when it is the open-file limit.
pub fn connect_error(e: std::io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(23 | 24) => {
            anyhow!("too many open files (EMFILE): raise the limit first, e.g. `ulimit -n 65536`")
        }
        _ => anyhow!("connect: {e}"),
    }
}

fn resolve(host: &str, port: u16, allow_remote: bool) -> anyhow::Result<SocketAddr> {
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))?;
    if !allow_remote && !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address; pass --allow-remote to measure a remote server");
    }
    Ok(addr)
}

/// Splits `scheme://authority/path` into (resolved address, authority, /path).
fn http_like(
    url: &str,
    scheme: &str,
    allow_remote: bool,
) -> anyhow::Result<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix(scheme)
        .ok_or_else(|| anyhow!("{url}: expected {scheme}…"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let (host, port) =
        split_host_port(authority, 80).with_context(|| format!("{url}: bad host:port"))?;
    Ok((
        resolve(&host, port, allow_remote)?,
        authority.to_string(),
        path.to_string(),
    ))
}

fn push_target(url: &str, allow_remote: bool) -> anyhow::Result<PushTarget> {
    if url.starts_with("rtmp://") {
        let url = RtmpUrl::parse(url)?;
        let addr = resolve(&url.host, url.port, allow_remote)?;
        return Ok(PushTarget::Rtmp { url, addr });
    }
    let (addr, host, path) = http_like(url, "http://", allow_remote)
        .with_context(|| "--push takes rtmp://… or http://… (HTTP-FLV POST)")?;
    Ok(PushTarget::HttpFlv { addr, host, path })
}

fn play_target(url: &str, allow_remote: bool) -> anyhow::Result<PlayTarget> {
    if url.starts_with("rtmp://") {
        let url = RtmpUrl::parse(url)?;
        let addr = resolve(&url.host, url.port, allow_remote)?;
        return Ok(PlayTarget::Rtmp { url, addr });
    }
    if url.starts_with("ws://") {
        let (addr, _, _) = http_like(url, "ws://", allow_remote)?;
        return Ok(PlayTarget::WsFlv {
            addr,
            url: url.to_string(),
        });
    }
    let (addr, host, path) = http_like(url, "http://", allow_remote)
        .with_context(|| "--play takes http://…, ws://… or rtmp://…")?;
    Ok(PlayTarget::HttpFlv { addr, host, path })
}

fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command: Vec<String> = std::env::args().map(|a| shell_quote(&a)).collect();
    println!("# {}", command.join(" "));
    match cli.command {
        Command::Fanout(args) => fanout(args),
        Command::Chat(args) => chat::run(args),
    }
}

fn fanout(args: FanoutArgs) -> anyhow::Result<()> {
    let n = args.viewers;
    if n == 0 {
        bail!("--viewers must be at least 1");
    }
    if args.duration <= args.settle + Duration::from_secs(1) {
        bail!("--duration must exceed --settle by at least 1 s");
    }
    if let Some(limit) = procstat::open_files_limit()
        && limit < n as u64 + 64
    {
        bail!(
            "the open-file limit is {limit}, {n} viewers need about {}: run `ulimit -n 65536` first",
            n + 64
        );
    }
    let push = push_target(&args.push, args.allow_remote)?;
    let play = Arc::new(play_target(&args.play, args.allow_remote)?);
    let mut roots = args.server_pids.clone();
    if let Some(name) = &args.server_pids_of {
        roots.extend(procstat::pids_named(name));
        if roots.is_empty() {
            bail!("no process named {name:?}");
        }
    }
    let tck = procstat::clk_tck();
    let media_path = args.media.clone().unwrap_or_else(media::default_path);
    media::ensure(&media_path)?;
    let media = Arc::new(media::Media::load(&media_path)?);

    // Publish, and wait for a GOP to reach the server.
    let stats = Arc::new(PushStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = pusher::spawn(push, media.clone(), stats.clone(), stop.clone())?;
    let started = Instant::now();
    let media_start = loop {
        if let Some(e) = stats.error() {
            bail!("publishing to {} failed: {e}", args.push);
        }
        if let Some(t) = stats.media_start.get()
            && t.elapsed() >= args.warmup
        {
            break *t;
        }
        if started.elapsed() > args.warmup + Duration::from_secs(15) {
            bail!("publishing to {} did not start within 15 s", args.push);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let baseline = procstat::sample(&roots, tck);

    // The timeline: joins, then settle, then the steady window, then the end.
    let join_start = Instant::now() + Duration::from_millis(200);
    let join_end = join_start + args.join_within;
    let end = join_end + args.duration;
    let tl = Timeline {
        media_start,
        window_start: join_end + args.settle,
        window_end: end - Duration::from_millis(250),
        end,
    };
    let counters: Arc<Vec<Counters>> = Arc::new((0..n).map(|_| Counters::default()).collect());
    let viewers = viewer::spawn_all(
        play.clone(),
        tl,
        counters.clone(),
        join_start,
        args.join_within,
        args.viewer_threads,
        args.read_buf,
    )?;
    sleep_until(tl.window_start);
    let s0 = snapshot(&roots, tck, &stats, &counters);
    // Lateness before the window (start-up, joins) is not what the window measures.
    stats.max_late_us.store(0, Ordering::Relaxed);
    let mut peak_rss = s0.server.rss_kib;
    while Instant::now() + Duration::from_millis(1100) < tl.window_end {
        std::thread::sleep(Duration::from_secs(1));
        peak_rss = peak_rss.max(procstat::sample(&roots, tck).rss_kib);
    }
    sleep_until(tl.window_end);
    let s1 = snapshot(&roots, tck, &stats, &counters);
    peak_rss = peak_rss.max(s1.server.rss_kib);
    let outcomes = viewers
        .join()
        .map_err(|_| anyhow!("the viewer thread panicked"))??;
    stop.store(true, Ordering::Relaxed);
    let push_error = stats.error();
    let _ = pusher.join();

    let summary = Summary {
        args: &args,
        play: &play,
        roots: &roots,
        baseline,
        s0,
        s1,
        peak_rss,
        outcomes,
        media_bps: media.bitrate(),
        push_late_ms: stats.max_late_us.load(Ordering::Relaxed) as f64 / 1000.0,
        push_error,
        join_start,
    };
    summary.print();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn targets_parse_and_stay_on_loopback() {
        let t = play_target("http://127.0.0.1:8080/live/bench.flv", false).unwrap();
        assert!(
            matches!(t, PlayTarget::HttpFlv { ref path, ref host, .. } if path == "/live/bench.flv" && host == "127.0.0.1:8080")
        );
        assert_eq!(
            play_target("ws://[::1]:8080/live/a.flv", false)
                .unwrap()
                .proto(),
            "ws-flv"
        );
        assert!(matches!(
            push_target("rtmp://localhost/live/a?key=k", false).unwrap(),
            PushTarget::Rtmp { .. }
        ));
        assert!(play_target("http://192.0.2.1/live/a.flv", false).is_err());
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("--play"), "--play");
    }
}
