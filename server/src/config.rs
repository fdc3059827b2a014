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
    /// FOR TESTS ONLY (`ONAIR_TEST_HOOKS=1`): a WS-FLV push URL with `&throttle_kbps=N`
    /// (optionally `&throttle_secs=S`) is read at no more than N kbit/s, to simulate a slow
    /// uplink. Off by default; the parameters are ignored when off.
    pub test_hooks: bool,
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
            max_tag_bytes: 8 << 20,
            publisher_idle_timeout: Duration::from_secs(20),
            republish_grace: Duration::from_secs(10),
            max_viewer_lag: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
            hls: HlsConfig::default(),
            record: RecordConfig::default(),
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
        config.validate()?;
        Ok(config)
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

    /// Does the HTTP port speak HTTPS? (Session cookies are then `Secure`, URLs `https`.)
    pub fn serves_https(&self) -> bool {
        false
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
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(&Cli::default(), None, no_env).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.http.port(), 8080);
        assert_eq!(c.rtmp.port(), 1935);
    }

    #[test]
    fn file_then_env_then_cli() {
        let file = "http = \"127.0.0.1:9000\"\nrtmp = \"127.0.0.1:9001\"\ndata = \"/tmp/x\"\n";
        let env = |n: &str| (n == "ONAIR_RTMP").then(|| "127.0.0.1:9002".to_string());
        let cli = Cli {
            data: Some("/tmp/cli".into()),
            ..Cli::default()
        };
        let c = Config::resolve(&cli, Some((Path::new("f.toml"), file.into())), env).unwrap();
        assert_eq!(c.http, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.rtmp, "127.0.0.1:9002".parse().unwrap());
        assert_eq!(c.data, PathBuf::from("/tmp/cli"));
        assert!(!c.open_publish);
        let file = "republish_grace = 2.5\nopen_publish = true\n";
        let c = Config::resolve(
            &Cli::default(),
            Some((Path::new("f.toml"), file.into())),
            no_env,
        )
        .unwrap();
        assert_eq!(c.republish_grace, Duration::from_millis(2500));
        assert!(c.open_publish);
        assert!(!c.test_hooks);
        let env = |n: &str| (n == "ONAIR_TEST_HOOKS").then(|| "1".to_string());
        assert!(
            Config::resolve(&Cli::default(), None, env)
                .unwrap()
                .test_hooks
        );
    }

    #[test]
    fn drain_timeout_from_file_env_and_flag() {
        assert_eq!(Config::default().drain_timeout, Duration::from_secs(30));
        let file = Some((Path::new("f.toml"), "drain_timeout = 2.5\n".to_string()));
        let c = Config::resolve(&Cli::default(), file.clone(), no_env).unwrap();
        assert_eq!(c.drain_timeout, Duration::from_millis(2500));
        let env = |n: &str| (n == "ONAIR_DRAIN_TIMEOUT").then(|| "4".to_string());
        let c = Config::resolve(&Cli::default(), file.clone(), env).unwrap();
        assert_eq!(c.drain_timeout, Duration::from_secs(4));
        let cli = Cli::try_parse_from(["onair", "--drain-timeout", "0.5"]).unwrap();
        let c = Config::resolve(&cli, file, env).unwrap();
        assert_eq!(c.drain_timeout, Duration::from_millis(500));
        let env = |n: &str| (n == "ONAIR_DRAIN_TIMEOUT").then(|| "-1".to_string());
        let err = Config::resolve(&Cli::default(), None, env).unwrap_err();
        assert!(err.to_string().contains("ONAIR_DRAIN_TIMEOUT"), "{err}");
        assert!(Cli::try_parse_from(["onair", "--drain-timeout", "soon"]).is_err());
    }

    #[test]
    fn accounts_settings() {
        let file = "open_signup = true\nadmin_token = \"0123456789abcdef\"\n\
                    trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nsite = \"https://tv.example\"\n";
        let c = Config::resolve(
            &Cli::default(),
            Some((Path::new("f.toml"), file.into())),
            no_env,
        )
        .unwrap();
        assert!(c.open_signup && !c.metrics_public);
        assert_eq!(c.admin_token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(c.trusted_proxy_ranges().len(), 2);
        let env = |n: &str| (n == "ONAIR_METRICS_PUBLIC").then(|| "1".to_string());
        assert!(
            Config::resolve(&Cli::default(), None, env)
                .unwrap()
                .metrics_public
        );
        for bad in [
            "admin_token = \"short\"",
            "trusted_proxies = [\"10.0.0.0/99\"]",
            "site = \"tv.example\"",
        ] {
            let err = Config::resolve(
                &Cli::default(),
                Some((Path::new("f.toml"), bad.into())),
                no_env,
            )
            .unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { .. }), "{bad}: {err}");
        }
        let cli = Cli::try_parse_from(["onair", "--open-signup"]).unwrap();
        assert!(Config::resolve(&cli, None, no_env).unwrap().open_signup);
    }

    #[test]
    fn hls_table() {
        let file = "[hls]\nsegment_target = 4\npart_target = 0.5\nwindow = 3\n";
        let c = Config::resolve(
            &Cli::default(),
            Some((Path::new("f.toml"), file.into())),
            no_env,
        )
        .unwrap();
        assert_eq!(c.hls.segment_target, Duration::from_secs(4));
        assert_eq!(c.hls.part_target, Duration::from_millis(500));
        assert_eq!(c.hls.window, 3);
        assert_eq!(c.hls.linger, HlsConfig::default().linger);
    }

    #[test]
    fn bad_inputs_name_their_source() {
        let err = Config::resolve(
            &Cli::default(),
            Some((Path::new("a.toml"), "bogus = 1".into())),
            no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("a.toml"), "{err}");
        let env = |n: &str| (n == "ONAIR_HTTP").then(|| "nope".to_string());
        let err = Config::resolve(&Cli::default(), None, env).unwrap_err();
        assert!(err.to_string().contains("ONAIR_HTTP"), "{err}");
    }
}
