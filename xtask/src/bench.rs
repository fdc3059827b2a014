//! `cargo xtask bench fanout …` and `cargo xtask bench chat …`: the benchmarks end to end.
//! Builds `onair` and `onair-bench` in release, starts onair (and, for fan-out with
//! `--against nginx`, nginx-rtmp) on free loopback ports with a raised open-file limit,
//! runs the bench against each with the server's PID, prints the table and stops the
//! servers with SIGTERM.
//!
//! std only, like the rest of xtask: it shells out to cargo, sh, apt-get and the binaries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::{self, Fail, TempDir, step};

const USAGE: &str = "\
usage: cargo xtask bench fanout [OPTIONS] [-- BENCH_ARGS…]

  --viewers N             viewers (default 1000)
  --duration D            seconds the viewers stay after the last one joined (default 30)
  --proto P               onair viewers: http-flv (default), ws-flv or rtmp
  --push P                how the bench publishes to onair: rtmp (default) or http-flv
  --join-within D         viewer starts are spread over this span (default 1s)
  --against nginx         also run nginx-rtmp (RTMP push + RTMP viewers) and print both rows
  --only onair|nginx      run just one of them
  BENCH_ARGS              passed to `onair-bench fanout` (see `onair-bench fanout --help`)

usage: cargo xtask bench chat [OPTIONS] [-- BENCH_ARGS…]

  --members N             chat members in one room (default 2000)
  --comments R            comments per second, all members together (default 200)
  --likes L               likes per second, all members together (default 2000)
  --duration D            seconds of sending, after everybody joined (default 20)
  --join-within D         member connects are spread over this span (default 30s)
  BENCH_ARGS              passed to `onair-bench chat` (see `onair-bench chat --help`)";

/// The stream everybody publishes and plays.
const ROOM: &str = "bench";

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
    let mut o = Opts {
        viewers: "1000".into(),
        duration: "30".into(),
        proto: "http-flv".into(),
        push: "rtmp".into(),
        join_within: "1s".into(),
        onair: true,
        nginx: false,
        extra: Vec::new(),
    };
    o.extra = parse_flags(args, |arg, value| {
        match arg {
            "--viewers" => o.viewers = value()?,
            "--duration" => o.duration = value()?,
            "--proto" => o.proto = value()?,
            "--push" => o.push = value()?,
            "--join-within" => o.join_within = value()?,
            "--against" => match value()?.as_str() {
                "nginx" | "nginx-rtmp" => o.nginx = true,
                other => return Err(Fail::new(format!("--against {other}: only nginx is known"))),
            },
            "--only" => match value()?.as_str() {
                "onair" => (o.onair, o.nginx) = (true, false),
                "nginx" | "nginx-rtmp" => (o.onair, o.nginx) = (false, true),
                other => return Err(Fail::new(format!("--only {other}: onair or nginx"))),
            },
            other => return Err(Fail::new(format!("unknown option {other:?}\n\n{USAGE}"))),
        }
        Ok(())
    })?;
    if !["http-flv", "ws-flv", "rtmp"].contains(&o.proto.as_str()) {
        return Err(Fail::new(format!(
            "--proto {}: http-flv, ws-flv or rtmp",
            o.proto
        )));
    }
    if !["http-flv", "rtmp"].contains(&o.push.as_str()) {
        return Err(Fail::new(format!("--push {}: http-flv or rtmp", o.push)));
    }
    Ok(o)
}

/// Hands each `--flag VALUE` before a `--` to `set` (which takes the value by calling
/// `value()`), and returns what follows `--`: arguments passed through to onair-bench.
fn parse_flags(
    args: &[String],
    mut set: impl FnMut(&str, &mut dyn FnMut() -> Result<String, Fail>) -> Result<(), Fail>,
) -> Result<Vec<String>, Fail> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            return Ok(it.cloned().collect());
        }
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| Fail::new(format!("{arg} needs a value\n\n{USAGE}")))
        };
        set(arg, &mut value)?;
    }
    Ok(Vec::new())
}

pub fn run(args: &[String]) -> Result<(), Fail> {
    if args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-h" || a == "--help")
    {
        println!("{USAGE}");
        return Ok(());
    }
    match args.first().map(String::as_str) {
        Some("fanout") => fanout(&parse(&args[1..])?),
        Some("chat") => chat(&parse_chat(&args[1..])?),
        Some("remux") => crate::bench_player::remux(&args[1..]),
        Some("g2g") => crate::bench_player::g2g(&args[1..]),
        _ => Err(Fail::new(format!(
            "{USAGE}\n\n{}",
            crate::bench_player::USAGE
        ))),
    }
}

struct ChatOpts {
    members: String,
    comments: String,
    likes: String,
    duration: String,
    join_within: String,
    extra: Vec<String>,
}

fn parse_chat(args: &[String]) -> Result<ChatOpts, Fail> {
    let mut o = ChatOpts {
        members: "2000".into(),
        comments: "200".into(),
        likes: "2000".into(),
        duration: "20".into(),
        join_within: "30s".into(),
        extra: Vec::new(),
    };
    o.extra = parse_flags(args, |arg, value| {
        match arg {
            "--members" => o.members = value()?,
            "--comments" => o.comments = value()?,
            "--likes" => o.likes = value()?,
            "--duration" => o.duration = value()?,
            "--join-within" => o.join_within = value()?,
            other => return Err(Fail::new(format!("unknown option {other:?}\n\n{USAGE}"))),
        }
        Ok(())
    })?;
    Ok(o)
}

/// The chat benchmark: onair (no `--open-publish`; the bench creates its room through the
/// API) and `onair-bench chat` against it; the bench prints its own table.
fn chat(o: &ChatOpts) -> Result<(), Fail> {
    step("building onair and onair-bench (release)");
    tools::run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "onair-bench",
            "-p",
            "onair-server",
        ],
        "check the compiler output above",
    )?;
    let dir = TempDir::new("bench-chat")?;
    let (server, http, _) = start_onair(&dir.0, false)?;
    let bin = tools::target_dir().join("release/onair-bench");
    let mut args: Vec<String> = vec![
        "chat".into(),
        "--server".into(),
        format!("http://127.0.0.1:{http}"),
        "--members".into(),
        o.members.clone(),
        "--comments".into(),
        o.comments.clone(),
        "--likes".into(),
        o.likes.clone(),
        "--duration".into(),
        o.duration.clone(),
        "--join-within".into(),
        o.join_within.clone(),
        "--server-pid".into(),
        server.pid().to_string(),
        "--label".into(),
        "onair".into(),
    ];
    args.extend(o.extra.iter().cloned());
    step(&format!(
        "chat: {} members, {} comments/s, {} likes/s for {} s",
        o.members, o.comments, o.likes, o.duration
    ));
    let status = with_fd_limit(&bin, &args).status();
    let stopped = server.stop();
    let status = status.map_err(|e| Fail::new(format!("cannot start {}: {e}", bin.display())))?;
    if !status.success() {
        return Err(Fail::new(format!("onair-bench chat exited with {status}")));
    }
    stopped
}

/// What one bench run printed: its command line, the table row and the notes under it.
struct Output {
    command: String,
    header: Vec<String>,
    row: String,
    notes: Vec<String>,
}

fn fanout(o: &Opts) -> Result<(), Fail> {
    step("building onair and onair-bench (release)");
    let mut packages = vec!["build", "--release", "-p", "onair-bench"];
    if o.onair {
        packages.extend(["-p", "onair-server"]);
    }
    tools::run("cargo", &packages, "check the compiler output above")?;
    let dir = TempDir::new("bench")?;
    let mut outputs = Vec::new();
    if o.onair {
        outputs.push(run_onair(o, &dir.0)?);
    }
    if o.nginx {
        outputs.push(run_nginx(o, &dir.0)?);
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

/// `sh -c 'raise the fd limit; exec PROGRAM ARGS…'`: the limit is inherited by the program.
fn with_fd_limit(program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@""#)
        .arg(program)
        .args(args);
    cmd
}

/// Starts `onair` on free loopback ports with its data in `dir`; returns it with its HTTP
/// and RTMP ports once `/healthz` answers.
fn start_onair(dir: &Path, open_publish: bool) -> Result<(Running, u16, u16), Fail> {
    let (http, rtmp) = (tools::free_port()?, tools::free_port()?);
    let data = dir.join("onair-data");
    let bin = tools::target_dir().join("release/onair");
    let mut args: Vec<String> = vec![
        "--http".into(),
        format!("127.0.0.1:{http}"),
        "--rtmp".into(),
        format!("127.0.0.1:{rtmp}"),
        "--data".into(),
        data.display().to_string(),
    ];
    if open_publish {
        args.push("--open-publish".into());
    }
    step(&format!("starting {} {}", bin.display(), args.join(" ")));
    let log = dir.join("onair.log");
    let mut cmd = with_fd_limit(&bin, &args);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let mut server = Running::spawn(cmd, &log, "onair")?;
    if let Err(e) = wait_healthz(http, &mut server) {
        let _ = server.stop();
        return Err(e);
    }
    Ok((server, http, rtmp))
}

fn run_onair(o: &Opts, dir: &Path) -> Result<Output, Fail> {
    let (server, http, rtmp) = start_onair(dir, true)?;
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

fn run_nginx(o: &Opts, dir: &Path) -> Result<Output, Fail> {
    let module = ensure_nginx()?;
    let port = tools::free_port()?;
    let ngx = dir.join("nginx");
    std::fs::create_dir_all(ngx.join("logs"))
        .map_err(|e| Fail::new(format!("cannot create {}: {e}", ngx.display())))?;
    let viewers: usize = o.viewers.parse().unwrap_or(1000);
    let nofile = hard_fd_limit().unwrap_or(65536).min(65536);
    let conf = format!(
        "load_module {module};\n\
         worker_processes 1;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         worker_rlimit_nofile {nofile};\n\
         events {{ worker_connections {conns}; }}\n\
         rtmp {{\n    server {{\n        listen 127.0.0.1:{port};\n        chunk_size 4096;\n        \
         application live {{ live on; }}\n    }}\n}}\n",
        dir = ngx.display(),
        conns = viewers + 1024,
    );
    let conf_path = ngx.join("nginx.conf");
    std::fs::write(&conf_path, conf)
        .map_err(|e| Fail::new(format!("cannot write {}: {e}", conf_path.display())))?;
    let args = vec![
        "-p".to_string(),
        ngx.display().to_string(),
        "-c".into(),
        conf_path.display().to_string(),
    ];
    step(&format!(
        "starting nginx-rtmp (worker_processes 1) on 127.0.0.1:{port}"
    ));
    let log = ngx.join("stderr.log");
    let mut server = Running::spawn(with_fd_limit(Path::new("nginx"), &args), &log, "nginx")?;
    wait_port(port, &mut server)?;
    let url = format!("rtmp://127.0.0.1:{port}/live/{ROOM}");
    // One worker: live streams cross workers only through rtmp_auto_push, which did not
    // relay to the second worker with Debian's module 1.2.2 (half the viewers got nothing).
    let note =
        "  nginx-rtmp: worker_processes 1 (onair: one tokio worker thread per core)".to_string();
    let result = run_bench(o, "nginx-rtmp", &url, &url, server.pid(), vec![note]);
    let stopped = server.stop();
    let out = result?;
    stopped?;
    Ok(out)
}

/// Installs nginx and its RTMP module if missing; returns the module's path.
fn ensure_nginx() -> Result<String, Fail> {
    let module = || {
        let out = Command::new("dpkg")
            .args(["-L", "libnginx-mod-rtmp"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.ends_with("ngx_rtmp_module.so"))
            .map(str::to_string)
    };
    let installed = Command::new("nginx")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if let (true, Some(path)) = (installed, module()) {
        return Ok(path);
    }
    step("installing nginx and libnginx-mod-rtmp with apt-get");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let packages = ["install", "-y", "-q", "nginx", "libnginx-mod-rtmp"];
    let installed = apt(&packages) || (apt(&["update", "-q"]) && apt(&packages));
    if !installed {
        return Err(Fail::new("cannot install nginx and libnginx-mod-rtmp")
            .hint("run as root: apt-get update && apt-get install nginx libnginx-mod-rtmp"));
    }
    module().ok_or_else(|| {
        Fail::new("libnginx-mod-rtmp is installed but ngx_rtmp_module.so was not found")
    })
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

/// A server process with its output going to a log file.
struct Running {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Running {
    fn spawn(mut cmd: Command, log: &Path, name: &'static str) -> Result<Self, Fail> {
        let file = std::fs::File::create(log)
            .map_err(|e| Fail::new(format!("cannot create {}: {e}", log.display())))?;
        let err = file.try_clone().map_err(|e| Fail::new(e.to_string()))?;
        let child = cmd
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| Fail::new(format!("cannot start {name}: {e}")))?;
        Ok(Self {
            child,
            name,
            log: log.to_path_buf(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Some(format!(
            "{} exited with {status}:\n{}",
            self.name,
            tail.join("\n")
        ))
    }

    /// SIGTERM, then up to 15 s to exit, then SIGKILL.
    fn stop(mut self) -> Result<(), Fail> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(Fail::new(format!(
            "{} did not exit within 15 s of SIGTERM",
            self.name
        )))
    }
}

fn wait_healthz(port: u16, server: &mut Running) -> Result<(), Fail> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if healthz_ok(port) {
            return Ok(());
        }
        if let Some(why) = server.exited() {
            return Err(Fail::new(why));
        }
        if Instant::now() > deadline {
            return Err(Fail::new(format!(
                "onair: no 200 from /healthz on port {port} within 30 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn healthz_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    s.read(&mut head)
        .is_ok_and(|n| head[..n].starts_with(b"HTTP/1.1 200"))
}

fn wait_port(port: u16, server: &mut Running) -> Result<(), Fail> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(why) = server.exited() {
            return Err(Fail::new(why));
        }
        if Instant::now() > deadline {
            return Err(Fail::new(format!(
                "nothing listens on port {port} after 15 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The hard open-file limit of this process (what `ulimit -n` can be raised to).
fn hard_fd_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let hard = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .nth(1)?;
    if hard == "unlimited" {
        Some(u64::MAX)
    } else {
        hard.parse().ok()
    }
}
