//! Configuration: defaults, then a TOML file (`--config`), then `ONAIR_*` environment
//! variables, then command-line flags — each layer overrides the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

/// Command line of `onair`. Every setting is optional here so that a flag only overrides
/// the file and environment when it is actually given.
#[derive(Debug, Default, Parser)]
#[command(
    name = "onair",
    version,
    about = "Live broadcast server: RTMP / WS-FLV / HTTP-FLV in, FLV / HLS out, rooms and chat, web UI."
)]
pub struct Cli {
    /// HTTP/WebSocket listen address (UI, API, FLV, HLS) [default: 0.0.0.0:8080]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// RTMP listen address [default: 0.0.0.0:1935]
    #[arg(long, value_name = "ADDR")]
    pub rtmp: Option<SocketAddr>,
    /// Data directory (database, recordings) [default: ./data]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// TOML configuration file; ONAIR_* environment variables override its values
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DEVELOPMENT ONLY: let anyone publish any stream name with any key (or none)
    #[arg(long)]
    pub open_publish: bool,
    /// Let anyone create a streamer account (limited per IP address)
    #[arg(long)]
    pub open_signup: bool,
    /// Serve the web client from this directory (a `trunk build --dist DIR`) instead of
    /// the copy embedded in the binary
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,
    /// Seconds a SIGTERM/SIGINT waits for streams, recordings and connections to finish
    /// before the server exits anyway [default: 30]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub drain_timeout: Option<Duration>,
    /// TLS certificate chain (PEM): HTTPS and WSS on the HTTP port; reloaded when the file
    /// changes. Needs --tls-key
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// LAN testing: serve HTTPS with a self-signed certificate for this machine's names and
    /// addresses, kept under DATA/tls/ (its SHA-256 fingerprint is logged)
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Another name (or address) the self-signed certificate covers; repeatable
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,
    /// RTMPS listen address (RTMP over TLS, same certificate) [default: off]
    #[arg(long, value_name = "ADDR")]
    pub rtmps: Option<SocketAddr>,
    /// Plain-HTTP listen address that redirects every request to HTTPS (308) [default: off]
    #[arg(long, value_name = "ADDR")]
    pub http_redirect: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Option<crate::cli::Command>,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    pub data: PathBuf,
    /// Development only: accept every publisher (see [`crate::auth::OpenPublish`]).
    pub open_publish: bool,
    /// Anyone may create a streamer account (`POST /api/signup`), a few per IP per hour.
    pub open_signup: bool,
    /// `Authorization: Bearer TOKEN` with this token acts as an admin (metrics scrapers,
    /// scripts). Unset: only signed-in admins.
    pub admin_token: Option<String>,
    /// `/metrics` and `/api/streams` without an admin (Prometheus on a private network).
    pub metrics_public: bool,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-Proto/Host/For` count.
    pub trusted_proxies: Vec<String>,
    /// The public origin (`https://tv.example.com`) when it differs from what requests show,
    /// e.g. behind a proxy that rewrites Host; cross-site checks accept it.
    pub site: Option<String>,
    /// Serve the client from this directory instead of the embedded build (development).
    pub web_root: Option<PathBuf>,
    /// Connections one listener (HTTP, RTMP, RTMPS) keeps open at once; 0: no cap.
    pub max_connections: usize,
    /// Connections one IP address may have open on one listener; 0: no cap.
    pub max_connections_per_ip: usize,
    /// Largest FLV tag / RTMP message accepted from a publisher.
    pub max_tag_bytes: usize,
    /// A publisher that sends nothing for this long is disconnected.
    #[serde(with = "secs")]
    pub publisher_idle_timeout: Duration,
    /// How long a stream waits for a dropped publisher to return before it ends.
    #[serde(with = "secs")]
    pub republish_grace: Duration,
    /// A viewer this far behind live (media time) skips ahead to the newest keyframe.
    #[serde(with = "secs")]
    pub max_viewer_lag: Duration,
    /// On SIGTERM/SIGINT: how long to wait for streams to end cleanly, recordings to be
    /// written and connections to close before exiting anyway.
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// HLS packaging (the `[hls]` table).
    pub hls: HlsConfig,
    /// Recording (the `[record]` table).
    pub record: RecordConfig,
    /// TLS for HTTPS/WSS (and RTMPS) (the `[tls]` table).
    pub tls: TlsConfig,
    /// RTMPS listen address (needs TLS); off when `None`.
    pub rtmps: Option<SocketAddr>,
    /// Plain-HTTP listener that 308-redirects every request to HTTPS (needs TLS).
    pub http_redirect: Option<SocketAddr>,
    /// FOR TESTS ONLY (`ONAIR_TEST_HOOKS=1`): a WS-FLV push URL with `&throttle_kbps=N`
    /// (optionally `&throttle_secs=S`) is read at no more than N kbit/s, to simulate a slow
    /// uplink. Off by default; the parameters are ignored when off.
    pub test_hooks: bool,
}

/// Where the certificate comes from. TLS is on when a certificate is given or
/// `self_signed` is set; then the HTTP port serves HTTPS and WSS only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first; reloaded when the file changes.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching `cert`.
    pub key: Option<PathBuf>,
    /// Generate (once) and use a self-signed certificate under `DATA/tls/`.
    pub self_signed: bool,
    /// Extra names and addresses for the self-signed certificate.
    pub names: Vec<String>,
}

impl TlsConfig {
    /// Whether the server speaks TLS (HTTPS, WSS, and RTMPS when configured).
    pub fn enabled(&self) -> bool {
        self.self_signed || self.cert.is_some()
    }
}

/// Which recordings every stream gets, under `DATA/recordings/ROOM/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    /// The raw FLV, written as packets arrive (flushed at least every second).
    pub flv: bool,
    /// An MP4 (`moov` first) built from the FLV when the stream ends.
    pub mp4: bool,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self {
            flv: true,
            mp4: true,
        }
    }
}

/// HLS packaging settings; durations in seconds in the TOML file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HlsConfig {
    /// Segments are cut on the first keyframe at least this long after the segment start.
    #[serde(with = "secs")]
    pub segment_target: Duration,
    /// LL-HLS partial segments last at most this long (`PART-TARGET`).
    #[serde(with = "secs")]
    pub part_target: Duration,
    /// Complete segments listed in a live playlist (older ones are dropped from memory).
    pub window: usize,
    /// How long a finished stream's playlist (with `EXT-X-ENDLIST`) stays served.
    #[serde(with = "secs")]
    pub linger: Duration,
}

impl Default for HlsConfig {
    fn default() -> Self {
        Self {
            segment_target: Duration::from_secs(2),
            part_target: Duration::from_millis(333),
            window: 6,
            linger: Duration::from_secs(60),
        }
    }
}

/// Durations are written in (fractional) seconds in the TOML file.
mod secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([0, 0, 0, 0], 8080)),
            rtmp: SocketAddr::from(([0, 0, 0, 0], 1935)),
            data: PathBuf::from("./data"),
            open_publish: false,
            open_signup: false,
            admin_token: None,
            metrics_public: false,
            trusted_proxies: Vec::new(),
            site: None,
            web_root: None,
            // The per-process open-file limit is often 20,000: leave room for files.
            max_connections: 19_000,
            // Generous for a NAT full of viewers; an attacker needs many addresses.
            max_connections_per_ip: 2_000,
            max_tag_bytes: 8 << 20,
            publisher_idle_timeout: Duration::from_secs(20),
            republish_grace: Duration::from_secs(10),
            max_viewer_lag: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
            hls: HlsConfig::default(),
            record: RecordConfig::default(),
            tls: TlsConfig::default(),
            rtmps: None,
            http_redirect: None,
            test_hooks: false,
        }
    }
}

/// Why the configuration could not be resolved; each names the source at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid value {value:?} in environment variable {name}: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "TLS: a certificate needs its key and a key its certificate (--tls-cert with --tls-key)"
    )]
    TlsPair,
    #[error(
        "TLS: --tls-self-signed generates its own certificate; it cannot be combined with --tls-cert/--tls-key"
    )]
    TlsConflict,
    #[error("{0} needs TLS: give --tls-cert and --tls-key, or --tls-self-signed")]
    NeedsTls(&'static str),
}

impl Config {
    /// Resolves the configuration from the real environment and the file named by the CLI
    /// (or by `ONAIR_CONFIG`).
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let path = cli
            .config
            .clone()
            .or_else(|| std::env::var_os("ONAIR_CONFIG").map(PathBuf::from));
        let file = match &path {
            Some(p) => Some((p.as_path(), read(p)?)),
            None => None,
        };
        Self::resolve(cli, file, |name| std::env::var(name).ok())
    }

    /// The pure merge: `file` is (path, TOML text), `env` looks a variable up.
    pub fn resolve(
        cli: &Cli,
        file: Option<(&Path, String)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some((path, text)) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?,
            None => Config::default(),
        };
        if let Some(v) = env_parse(&env, "ONAIR_HTTP")? {
            config.http = v;
        }
        if let Some(v) = env_parse(&env, "ONAIR_RTMP")? {
            config.rtmp = v;
        }
        if let Some(v) = env("ONAIR_DATA") {
            config.data = PathBuf::from(v);
        }
        if let Some(v) = env("ONAIR_OPEN_PUBLISH") {
            config.open_publish = matches!(v.as_str(), "1" | "true" | "yes");
        }
        config.open_publish |= cli.open_publish;
        if let Some(v) = env("ONAIR_OPEN_SIGNUP") {
            config.open_signup = matches!(v.as_str(), "1" | "true" | "yes");
        }
        config.open_signup |= cli.open_signup;
        if let Some(v) = env("ONAIR_METRICS_PUBLIC") {
            config.metrics_public = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env_parse(&env, "ONAIR_MAX_CONNECTIONS")? {
            config.max_connections = v;
        }
        if let Some(v) = env_parse(&env, "ONAIR_MAX_CONNECTIONS_PER_IP")? {
            config.max_connections_per_ip = v;
        }
        if let Some(v) = env("ONAIR_ADMIN_TOKEN") {
            config.admin_token = Some(v);
        }
        if let Some(v) = env("ONAIR_SITE") {
            config.site = Some(v);
        }
        if let Some(v) = env("ONAIR_TRUSTED_PROXIES") {
            config.trusted_proxies = v.split(',').map(|s| s.trim().to_string()).collect();
        }
        if let Some(v) = env("ONAIR_TEST_HOOKS") {
            config.test_hooks = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("ONAIR_WEB_ROOT") {
            config.web_root = Some(PathBuf::from(v));
        }
        if let Some(v) = &cli.web_root {
            config.web_root = Some(v.clone());
        }
        if let Some(v) = env("ONAIR_DRAIN_TIMEOUT") {
            config.drain_timeout = parse_secs(&v).map_err(|reason| ConfigError::Env {
                name: "ONAIR_DRAIN_TIMEOUT",
                value: v,
                reason,
            })?;
        }
        if let Some(v) = cli.drain_timeout {
            config.drain_timeout = v;
        }
        if let Some(v) = cli.http {
            config.http = v;
        }
        if let Some(v) = cli.rtmp {
            config.rtmp = v;
        }
        if let Some(v) = &cli.data {
            config.data = v.clone();
        }
        config.resolve_tls(cli, &env)?;
        config.validate()?;
        Ok(config)
    }

    /// The `[tls]` table, `rtmps` and `http_redirect` from the environment and flags,
    /// then checked as a whole: half a key pair or a mix of sources is a mistake to say
    /// out loud, not a certificate to guess.
    fn resolve_tls(
        &mut self,
        cli: &Cli,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = env("ONAIR_TLS_CERT") {
            self.tls.cert = Some(PathBuf::from(v));
        }
        if let Some(v) = env("ONAIR_TLS_KEY") {
            self.tls.key = Some(PathBuf::from(v));
        }
        if let Some(v) = env("ONAIR_TLS_SELF_SIGNED") {
            self.tls.self_signed = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env_parse(env, "ONAIR_RTMPS")? {
            self.rtmps = Some(v);
        }
        if let Some(v) = env_parse(env, "ONAIR_HTTP_REDIRECT")? {
            self.http_redirect = Some(v);
        }
        if let Some(v) = &cli.tls_cert {
            self.tls.cert = Some(v.clone());
        }
        if let Some(v) = &cli.tls_key {
            self.tls.key = Some(v.clone());
        }
        self.tls.self_signed |= cli.tls_self_signed;
        self.tls.names.extend(cli.tls_names.iter().cloned());
        if let Some(v) = cli.rtmps {
            self.rtmps = Some(v);
        }
        if let Some(v) = cli.http_redirect {
            self.http_redirect = Some(v);
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::TlsPair);
        }
        if self.tls.self_signed && self.tls.cert.is_some() {
            return Err(ConfigError::TlsConflict);
        }
        if !self.tls.enabled() {
            if self.rtmps.is_some() {
                return Err(ConfigError::NeedsTls("RTMPS (--rtmps)"));
            }
            if self.http_redirect.is_some() {
                return Err(ConfigError::NeedsTls(
                    "the HTTPS redirect (--http-redirect)",
                ));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason: String| Err(ConfigError::Invalid { name, reason });
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            return invalid("admin_token", "use at least 16 characters".into());
        }
        if let Some(site) = &self.site
            && !(site.starts_with("https://") || site.starts_with("http://"))
        {
            return invalid(
                "site",
                format!("{site:?} is not an origin like https://tv.example.com"),
            );
        }
        for p in &self.trusted_proxies {
            if let Err(reason) = p.parse::<crate::http::site::Cidr>() {
                return invalid("trusted_proxies", reason);
            }
        }
        Ok(())
    }

    /// Whether the HTTP port speaks HTTPS (and WSS): the scheme of URLs for clients that
    /// reach the server directly.
    pub fn serves_https(&self) -> bool {
        self.tls.enabled()
    }

    /// `https` or `http`, for the HTTP port's URLs.
    pub fn http_scheme(&self) -> &'static str {
        if self.serves_https() { "https" } else { "http" }
    }

    /// `wss` or `ws`, for WebSocket URLs on the HTTP port.
    pub fn ws_scheme(&self) -> &'static str {
        if self.serves_https() { "wss" } else { "ws" }
    }

    /// The parsed `trusted_proxies` (validated when the config was resolved).
    pub fn trusted_proxy_ranges(&self) -> Vec<crate::http::site::Cidr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

/// (Fractional) seconds, as on the command line and in `ONAIR_*` variables.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("not a number of seconds: {e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn env_parse<T>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
                value,
            }),
    }
}

#[cfg(test)]
mod tests;
