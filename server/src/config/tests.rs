//! Config resolution: defaults, file, environment and flags, and the mistakes they catch.

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
fn tls_from_file_env_and_flags() {
    let c = Config::resolve(&Cli::default(), None, no_env).unwrap();
    assert!(!c.tls.enabled());
    assert_eq!((c.http_scheme(), c.ws_scheme()), ("http", "ws"));
    assert_eq!((c.rtmps, c.http_redirect), (None, None));

    let file = "rtmps = \"127.0.0.1:1936\"\n[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n";
    let c = Config::resolve(
        &Cli::default(),
        Some((Path::new("f.toml"), file.into())),
        no_env,
    )
    .unwrap();
    assert_eq!(c.tls.cert, Some(PathBuf::from("/c.pem")));
    assert_eq!(c.tls.key, Some(PathBuf::from("/k.pem")));
    assert!(c.tls.enabled() && c.serves_https());
    assert_eq!((c.http_scheme(), c.ws_scheme()), ("https", "wss"));
    assert_eq!(c.rtmps, Some("127.0.0.1:1936".parse().unwrap()));

    let env = |n: &str| match n {
        "ONAIR_TLS_CERT" => Some("/env-c.pem".to_string()),
        "ONAIR_TLS_KEY" => Some("/env-k.pem".to_string()),
        "ONAIR_RTMPS" => Some("0.0.0.0:1937".to_string()),
        _ => None,
    };
    let c = Config::resolve(&Cli::default(), None, env).unwrap();
    assert_eq!(c.tls.cert, Some(PathBuf::from("/env-c.pem")));
    assert_eq!(c.rtmps, Some("0.0.0.0:1937".parse().unwrap()));
    let cli = Cli::try_parse_from([
        "onair",
        "--tls-cert",
        "/cli-c.pem",
        "--tls-key",
        "/cli-k.pem",
        "--rtmps",
        "127.0.0.1:1938",
        "--http-redirect",
        "127.0.0.1:8081",
    ])
    .unwrap();
    let c = Config::resolve(&cli, None, env).unwrap();
    assert_eq!(c.tls.cert, Some(PathBuf::from("/cli-c.pem")));
    assert_eq!(c.tls.key, Some(PathBuf::from("/cli-k.pem")));
    assert_eq!(c.rtmps, Some("127.0.0.1:1938".parse().unwrap()));
    assert_eq!(c.http_redirect, Some("127.0.0.1:8081".parse().unwrap()));

    let file = "[tls]\nself_signed = true\nnames = [\"tv.lan\"]\n";
    let cli =
        Cli::try_parse_from(["onair", "--tls-name", "a.lan", "--tls-name", "10.0.0.9"]).unwrap();
    let c = Config::resolve(&cli, Some((Path::new("f.toml"), file.into())), no_env).unwrap();
    assert!(c.tls.self_signed && c.tls.enabled());
    assert_eq!(c.tls.names, ["tv.lan", "a.lan", "10.0.0.9"]);
    let env = |n: &str| (n == "ONAIR_TLS_SELF_SIGNED").then(|| "1".to_string());
    assert!(
        Config::resolve(&Cli::default(), None, env)
            .unwrap()
            .tls
            .self_signed
    );
    let cli = Cli::try_parse_from(["onair", "--tls-self-signed"]).unwrap();
    assert!(Config::resolve(&cli, None, no_env).unwrap().tls.enabled());
}

#[test]
fn tls_mistakes_are_clear_errors() {
    let resolve = |args: &[&str]| {
        let mut argv = vec!["onair"];
        argv.extend_from_slice(args);
        Config::resolve(&Cli::try_parse_from(argv).unwrap(), None, no_env)
    };
    assert!(matches!(
        resolve(&["--tls-cert", "c.pem"]),
        Err(ConfigError::TlsPair)
    ));
    assert!(matches!(
        resolve(&["--tls-key", "k.pem"]),
        Err(ConfigError::TlsPair)
    ));
    let err = resolve(&["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"]).unwrap_err();
    assert!(matches!(err, ConfigError::TlsConflict), "{err}");
    let err = resolve(&["--rtmps", "127.0.0.1:1936"]).unwrap_err();
    assert!(matches!(err, ConfigError::NeedsTls(_)), "{err}");
    assert!(err.to_string().contains("--tls-cert"), "{err}");
    let err = resolve(&["--http-redirect", "127.0.0.1:80"]).unwrap_err();
    assert!(matches!(err, ConfigError::NeedsTls(_)), "{err}");
    let env = |n: &str| (n == "ONAIR_RTMPS").then(|| "nope".to_string());
    let err = Config::resolve(&Cli::default(), None, env).unwrap_err();
    assert!(err.to_string().contains("ONAIR_RTMPS"), "{err}");
    let file = "[tls]\ncertificate = \"c.pem\"\n";
    assert!(
        Config::resolve(
            &Cli::default(),
            Some((Path::new("f.toml"), file.into())),
            no_env
        )
        .is_err(),
        "unknown [tls] keys are refused"
    );
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
