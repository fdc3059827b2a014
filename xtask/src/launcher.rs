//! The one way xtask starts servers for tests and benches.
//!
//! - [`Onair`]: the release `onair` on free loopback ports, run from (and keeping its data
//!   and log in) a fresh temp directory, with extra arguments and environment; ready once
//!   `/healthz` answers 200.
//! - [`Process`]: any server with its output in a log file (onair, nginx-rtmp): stopped with
//!   SIGTERM (SIGKILL after 15 s) by [`Process::stop`] or on drop, and its log printed when
//!   it fails to start or to stop.
//! - [`with_fd_limit`]: every server and load generator runs with a raised open-file limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::tools::{self, Fail, TempDir, step};

/// How long a server has to exit after SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// `sh -c 'raise the fd limit; exec PROGRAM ARGS…'`: the limit is inherited by the program,
/// which keeps the shell's PID.
pub fn with_fd_limit(program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@""#)
        .arg(program)
        .args(args);
    cmd
}

/// A release `onair` on free loopback ports, started by [`Onair::start`].
pub struct Onair {
    // Dropped in this order: the server stops before its directory is removed.
    process: Process,
    pub http: u16,
    pub rtmp: u16,
    _dir: TempDir,
}

impl Onair {
    /// Starts `target/release/onair --http 127.0.0.1:P --rtmp 127.0.0.1:Q --data DIR/data
    /// EXTRA…` from the empty temp directory `onair-{what}-{pid}` (so the page it serves can
    /// only come from the assets embedded in the binary), with `env` added, its output in
    /// `DIR/onair.log` and a raised open-file limit; returns once `/healthz` answers 200.
    pub fn start(what: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Self, Fail> {
        let dir = TempDir::new(what)?;
        let (http, rtmp) = (tools::free_port()?, tools::free_port()?);
        let bin = tools::target_dir().join("release/onair");
        let mut args: Vec<String> = vec![
            "--http".into(),
            format!("127.0.0.1:{http}"),
            "--rtmp".into(),
            format!("127.0.0.1:{rtmp}"),
            "--data".into(),
            dir.0.join("data").display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        step(&format!("starting {} {}", bin.display(), args.join(" ")));
        let mut cmd = with_fd_limit(&bin, &args);
        cmd.current_dir(&dir.0).envs(env.iter().copied());
        let mut process = Process::spawn(cmd, &dir.0.join("onair.log"), "onair")?;
        process.wait_until(
            Duration::from_secs(30),
            || healthz_ok(http),
            || format!("onair: no 200 from /healthz on port {http} within 30 s"),
        )?;
        Ok(Self {
            process,
            http,
            rtmp,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:P`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// `rtmp://127.0.0.1:Q`
    pub fn rtmp_url(&self) -> String {
        format!("rtmp://127.0.0.1:{}", self.rtmp)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Prints the server's log: for a caller whose run against it failed.
    pub fn print_log(&self) {
        self.process.print_log();
    }

    /// SIGTERM; it must exit within 15 s, with any status (benches only need it gone).
    pub fn stop(self) -> Result<(), Fail> {
        self.process.stop().map(|_| ())
    }

    /// SIGTERM; it must exit cleanly on its own within 15 s (graceful shutdown is tested).
    pub fn stop_clean(self) -> Result<(), Fail> {
        // `_dir` keeps the log until this returns.
        let Onair { process, _dir, .. } = self;
        let log = process.log.clone();
        let status = process.stop()?;
        if status.success() {
            return Ok(());
        }
        print_log_text("onair", &std::fs::read_to_string(log).unwrap_or_default());
        Err(Fail::new(format!(
            "onair exited with {status} after SIGTERM"
        )))
    }
}

/// A server process with its output going to a log file; SIGTERM on drop.
pub struct Process {
    /// None once stopped.
    child: Option<Child>,
    name: &'static str,
    log: PathBuf,
}

impl Process {
    pub fn spawn(mut cmd: Command, log: &Path, name: &'static str) -> Result<Self, Fail> {
        let file = std::fs::File::create(log)
            .map_err(|e| Fail::new(format!("cannot create {}: {e}", log.display())))?;
        let err = file.try_clone().map_err(|e| Fail::new(e.to_string()))?;
        let child = cmd
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| Fail::new(format!("cannot start {name}: {e}")))?;
        Ok(Self {
            child: Some(child),
            name,
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits until something listens on loopback `port`, for at most 15 s.
    pub fn wait_port(&mut self, port: u16) -> Result<(), Fail> {
        self.wait_until(
            Duration::from_secs(15),
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            || format!("nothing listens on port {port} after 15 s"),
        )
    }

    /// Polls `ready` every 100 ms; fails (printing the log) when the process exits first or
    /// `within` passes.
    fn wait_until(
        &mut self,
        within: Duration,
        mut ready: impl FnMut() -> bool,
        late: impl FnOnce() -> String,
    ) -> Result<(), Fail> {
        let deadline = Instant::now() + within;
        loop {
            if ready() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.print_log();
                return Err(Fail::new(format!("{} exited with {status}", self.name)));
            }
            if Instant::now() > deadline {
                self.print_log();
                return Err(Fail::new(late()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn print_log(&self) {
        print_log_text(
            self.name,
            &std::fs::read_to_string(&self.log).unwrap_or_default(),
        );
    }

    /// SIGTERM, then up to 15 s to exit; its exit status, or a failure (after SIGKILL and
    /// printing the log) when it did not exit in time.
    pub fn stop(mut self) -> Result<ExitStatus, Fail> {
        let result = self.terminate();
        if result.is_err() {
            self.print_log();
        }
        result
    }

    fn terminate(&mut self) -> Result<ExitStatus, Fail> {
        let Some(mut child) = self.child.take() else {
            return Err(Fail::new(format!("{} was already stopped", self.name)));
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(Fail::new(format!(
            "{} did not exit within 15 s of SIGTERM",
            self.name
        )))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
    }
}

/// The last 200 lines of a server's log, framed, on stderr.
fn print_log_text(name: &str, log: &str) {
    let lines: Vec<&str> = log.lines().collect();
    let shown = &lines[lines.len().saturating_sub(200)..];
    eprintln!("\n---- {name} log ----");
    if shown.len() < lines.len() {
        eprintln!("({} earlier lines not shown)", lines.len() - shown.len());
    }
    for line in shown {
        eprintln!("{line}");
    }
    eprintln!("---- end of {name} log ----");
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
