//! `cargo xtask bench chat`: onair (no `--open-publish`; the bench creates its room through
//! the API, as a streamer it makes with the server's admin token) and `onair-bench chat`
//! against it; the bench prints its own table.

use super::flags::Flags;
use crate::launcher::with_fd_limit;
use crate::tools::{self, Fail, step};

pub const USAGE: &str = "\
usage: cargo xtask bench chat [OPTIONS] [-- BENCH_ARGS…]

  --members N             chat members in one room (default 2000)
  --comments R            comments per second, all members together (default 200)
  --likes L               likes per second, all members together (default 2000)
  --duration D            seconds of sending, after everybody joined (default 20)
  --join-within D         member connects are spread over this span (default 30s)
  BENCH_ARGS              passed to `onair-bench chat` (see `onair-bench chat --help`)";

/// The options, named as `onair-bench chat` names them.
const OPTIONS: &[(&str, &str)] = &[
    ("--members", "2000"),
    ("--comments", "200"),
    ("--likes", "2000"),
    ("--duration", "20"),
    ("--join-within", "30s"),
];

pub fn run(args: &[String]) -> Result<(), Fail> {
    let o = Flags::parse(args, OPTIONS, true, USAGE)?;
    super::build_release(true)?;
    let admin_token = tools::random_hex(16)?;
    let server = super::start_onair("bench-chat", &[], &[("ONAIR_ADMIN_TOKEN", &admin_token)])?;
    let bin = tools::target_dir().join("release/onair-bench");
    let mut args: Vec<String> = vec!["chat".into(), "--server".into(), server.url()];
    for (name, _) in OPTIONS {
        args.extend([name.to_string(), o.get(name).to_string()]);
    }
    args.extend([
        "--server-pid".into(),
        server.pid().to_string(),
        "--label".into(),
        "onair".into(),
    ]);
    args.extend(o.extra.iter().cloned());
    step(&format!(
        "chat: {} members, {} comments/s, {} likes/s for {} s",
        o.get("--members"),
        o.get("--comments"),
        o.get("--likes"),
        o.get("--duration")
    ));
    // In the environment, not on the command line (which `ps` shows).
    let status = with_fd_limit(&bin, &args)
        .env("ONAIR_ADMIN_TOKEN", &admin_token)
        .status();
    let stopped = server.stop();
    let status = status.map_err(|e| Fail::new(format!("cannot start {}: {e}", bin.display())))?;
    if !status.success() {
        return Err(Fail::new(format!("onair-bench chat exited with {status}")));
    }
    stopped
}
