//! `cargo xtask bench …`: the benchmarks end to end.
//!
//! - `fanout.rs`: `bench fanout`, onair (and nginx-rtmp, `nginx.rs`) under `onair-bench
//!   fanout`, one table.
//! - `chat.rs`: `bench chat`, onair under `onair-bench chat`.
//! - `player.rs`: `bench remux` (the player's remux in wasm under Node) and `bench g2g`
//!   (glass-to-glass latency in headless Chromium).
//! - `flags.rs`: the option parser they all use.
//!
//! Servers are started through [`crate::launcher`]. std only, like the rest of xtask: it
//! shells out to cargo, sh, apt-get and the binaries.

mod chat;
mod fanout;
mod flags;
mod nginx;
mod player;

use crate::launcher::Onair;
use crate::tools::{self, Fail, step};

/// The stream everybody publishes and plays.
const ROOM: &str = "bench";

pub fn run(args: &[String]) -> Result<(), Fail> {
    let usage = match args.first().map(String::as_str) {
        Some("fanout") => fanout::USAGE,
        Some("chat") => chat::USAGE,
        Some("remux" | "g2g") => player::USAGE,
        _ => "",
    };
    let all = || [fanout::USAGE, chat::USAGE, player::USAGE].join("\n\n");
    if args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-h" || a == "--help")
    {
        println!(
            "{}",
            if usage.is_empty() {
                all()
            } else {
                usage.into()
            }
        );
        return Ok(());
    }
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("fanout") => fanout::run(rest),
        Some("chat") => chat::run(rest),
        Some("remux") => player::remux(rest),
        Some("g2g") => player::g2g(rest),
        _ => Err(Fail::new(all())),
    }
}

/// Builds `onair-bench` and, with `server`, `onair` in release.
fn build_release(server: bool) -> Result<(), Fail> {
    let mut args = vec!["build", "--release", "-p", "onair-bench"];
    if server {
        step("building onair and onair-bench (release)");
        args.extend(["-p", "onair-server"]);
    } else {
        step("building onair-bench (release)");
    }
    tools::run("cargo", &args, "check the compiler output above")
}

/// The benches' onair: [`Onair::start`] with `env` and `RUST_LOG=warn` unless `RUST_LOG`
/// is set.
fn start_onair(what: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Onair, Fail> {
    let mut env = env.to_vec();
    if std::env::var_os("RUST_LOG").is_none() {
        env.push(("RUST_LOG", "warn"));
    }
    Onair::start(what, extra, &env)
}
