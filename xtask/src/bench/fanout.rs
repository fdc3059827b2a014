//! `cargo xtask bench fanout`: onair (and, with `--against nginx`, nginx-rtmp) on free
//! loopback ports, `onair-bench fanout` against each with the server's PID, and one table
//! of their rows; the servers are stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::ROOM;
use super::flags::Flags;
use super::nginx::Nginx;
use crate::launcher::with_fd_limit;
use crate::tools::{self, Fail, step};

pub const USAGE: &str = "\
usage: cargo xtask bench fanout [OPTIONS] [-- BENCH_ARGS…]

  --viewers N             viewers (default 1000)
  --duration D            seconds the viewers stay after the last one joined (default 30)
  --proto P               onair viewers: http-flv (default), ws-flv or rtmp
  --push P                how the bench publishes to onair: rtmp (default) or http-flv
  --join-within D         viewer starts are spread over this span (default 1s)
  --against nginx         also run nginx-rtmp (RTMP push + RTMP viewers) and print both rows
  --only onair|nginx      run just one of them
  BENCH_ARGS              passed to `onair-bench fanout` (see `onair-bench fanout --help`)";

struct Opts {
    viewers: String,
    duration: String,
    proto: String,
    push: String,
    join_within: String,
    onair: bool,
    nginx: bool,
    extra: Vec<String>,
}

fn parse(args: &[String]) -> Result<Opts, Fail> {
    let f = Flags::parse(
        args,
        &[
            ("--viewers", "1000"),
            ("--duration", "30"),
            ("--proto", "http-flv"),
            ("--push", "rtmp"),
            ("--join-within", "1s"),
            ("--against", ""),
            ("--only", ""),
        ],
        true,
        USAGE,
    )?;
    let against_nginx = match f.get("--against") {
        "" => false,
        "nginx" | "nginx-rtmp" => true,
        other => return Err(Fail::new(format!("--against {other}: only nginx is known"))),
    };
    let (onair, nginx) = match f.get("--only") {
        "" => (true, against_nginx),
        "onair" => (true, false),
        "nginx" | "nginx-rtmp" => (false, true),
        other => return Err(Fail::new(format!("--only {other}: onair or nginx"))),
    };
    let proto = f.one_of(
        "--proto",
        &["http-flv", "ws-flv", "rtmp"],
        "http-flv, ws-flv or rtmp",
    )?;
    let push = f.one_of("--push", &["http-flv", "rtmp"], "http-flv or rtmp")?;
    Ok(Opts {
        viewers: f.get("--viewers").into(),
        duration: f.get("--duration").into(),
        proto: proto.into(),
        push: push.into(),
        join_within: f.get("--join-within").into(),
        onair,
        nginx,
        extra: f.extra.clone(),
    })
}

/// What one bench run printed: its command line, the table row and the notes under it.
struct Output {
    command: String,
    header: Vec<String>,
    row: String,
    notes: Vec<String>,
}

pub fn run(args: &[String]) -> Result<(), Fail> {
    let o = parse(args)?;
    super::build_release(o.onair)?;
    let mut outputs = Vec::new();
    if o.onair {
        outputs.push(run_onair(&o)?);
    }
    if o.nginx {
        outputs.push(run_nginx(&o)?);
    }
    step(&format!(
        "fan-out: {} viewers for {} s, joining within {}",
        o.viewers, o.duration, o.join_within
    ));
    for out in &outputs {
        println!("{}", out.command);
    }
    if let Some(first) = outputs.first() {
        for line in &first.header {
            println!("{line}");
        }
    }
    for out in &outputs {
        println!("{}", out.row);
    }
    for out in &outputs {
        println!();
        for note in &out.notes {
            println!("{note}");
        }
    }
    Ok(())
}

fn run_onair(o: &Opts) -> Result<Output, Fail> {
    let server = super::start_onair("bench-fanout", &["--open-publish"], &[])?;
    let (http, rtmp) = (server.http, server.rtmp);
    let push = match o.push.as_str() {
        "rtmp" => format!("rtmp://127.0.0.1:{rtmp}/live/{ROOM}?key=bench"),
        _ => format!("http://127.0.0.1:{http}/live/{ROOM}.flv?key=bench"),
    };
    let play = match o.proto.as_str() {
        "rtmp" => format!("rtmp://127.0.0.1:{rtmp}/live/{ROOM}"),
        "ws-flv" => format!("ws://127.0.0.1:{http}/live/{ROOM}.flv"),
        _ => format!("http://127.0.0.1:{http}/live/{ROOM}.flv"),
    };
    let result = run_bench(o, "onair", &push, &play, server.pid(), Vec::new());
    let stopped = server.stop();
    let out = result?;
    stopped?;
    Ok(out)
}

fn run_nginx(o: &Opts) -> Result<Output, Fail> {
    let server = Nginx::start(o.viewers.parse().unwrap_or(1000))?;
    let url = format!("rtmp://127.0.0.1:{}/live/{ROOM}", server.port);
    // One worker: live streams cross workers only through rtmp_auto_push, which did not
    // relay to the second worker with Debian's module 1.2.2 (half the viewers got nothing).
    let note =
        "  nginx-rtmp: worker_processes 1 (onair: one tokio worker thread per core)".to_string();
    let result = run_bench(
        o,
        "nginx-rtmp",
        &url,
        &url,
        server.process.pid(),
        vec![note],
    );
    let stopped = server.process.stop();
    let out = result?;
    stopped?;
    Ok(out)
}

fn run_bench(
    o: &Opts,
    label: &str,
    push: &str,
    play: &str,
    pid: u32,
    mut notes: Vec<String>,
) -> Result<Output, Fail> {
    let bin = tools::target_dir().join("release/onair-bench");
    let mut args: Vec<String> = [
        "fanout",
        "--push",
        push,
        "--play",
        play,
        "--viewers",
        &o.viewers,
        "--duration",
        &o.duration,
        "--join-within",
        &o.join_within,
        "--server-pid",
        &pid.to_string(),
        "--label",
        label,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(o.extra.iter().cloned());
    step(&format!("onair-bench against {label}"));
    let mut child = with_fd_limit(&bin, &args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Fail::new(format!("cannot start {}: {e}", bin.display())))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            lines.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Fail::new(format!("onair-bench: {e}")))?;
    if !status.success() {
        return Err(Fail::new(format!(
            "onair-bench against {label} exited with {status}"
        )));
    }
    let header_at = lines.iter().position(|l| l.starts_with("target "));
    let (Some(command), Some(h)) = (lines.first(), header_at) else {
        return Err(Fail::new("onair-bench printed no table"));
    };
    let row = lines.get(h + 2).cloned().unwrap_or_default();
    let rest = lines.iter().skip(h + 3).filter(|l| !l.is_empty()).cloned();
    let mut all_notes: Vec<String> = vec![format!("  {label}:")];
    all_notes.extend(rest);
    all_notes.append(&mut notes);
    Ok(Output {
        command: command.clone(),
        header: lines.iter().skip(h).take(2).cloned().collect(),
        row,
        notes: all_notes,
    })
}
