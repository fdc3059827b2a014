//! Browser end-to-end tests: a real release `onair` (client embedded) on free loopback ports,
//! driven by Playwright in Debian's Chromium through `node --test e2e/`.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::tools::{self, Fail, TempDir, root, run, run_in, step};

pub fn run_e2e() -> Result<(), Fail> {
    let dist = crate::build_client()?;
    tools::ensure_system_tools()?;
    run_e2e_with(&dist)
}

pub fn run_e2e_with(_dist: &Path) -> Result<(), Fail> {
    prepare()?;
    let server = Server::start()?;
    step(&format!("browser tests against {}", server.url));
    let result = run_in(
        &root().join("e2e"),
        "node",
        &["--test", "--test-concurrency=1", "--test-reporter=spec"],
        &[
            ("ONAIR_URL", server.url.as_str()),
            ("ONAIR_RTMP", server.rtmp.as_str()),
            ("CHROMIUM", tools::chromium_path().as_str()),
        ],
        "see the failing browser test above",
    );
    let stopped = server.stop();
    result?;
    stopped
}

/// The browser-test driver from npm and the release server with the client embedded.
pub fn prepare() -> Result<(), Fail> {
    tools::ensure_node()?;
    let e2e = root().join("e2e");
    step("installing the browser-test driver (playwright-core from npm; no browser download)");
    run_in(
        &e2e,
        "npm",
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        &[("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")],
        "check that the npm registry is reachable",
    )?;
    step("building the release server (embeds dist/)");
    run(
        "cargo",
        &["build", "--release", "-p", "onair-server"],
        "check the compiler output above",
    )?;
    Ok(())
}

/// A release `onair` started from an empty directory, so the page it serves can only come
/// from the assets embedded in the binary.
pub struct Server {
    child: Child,
    pub url: String,
    pub rtmp: String,
    _dir: TempDir,
}

impl Server {
    pub fn start() -> Result<Self, Fail> {
        let bin = tools::target_dir().join("release/onair");
        let dir = TempDir::new("e2e")?;
        let (http, rtmp) = (tools::free_port()?, tools::free_port()?);
        let child = Command::new(&bin)
            .args([
                "--http",
                &format!("127.0.0.1:{http}"),
                "--rtmp",
                &format!("127.0.0.1:{rtmp}"),
                "--data",
                "data",
                // Browser tests push their own streams (ffmpeg, the studio) without room keys.
                "--open-publish",
            ])
            // Test hooks (a throttled WS-FLV push for the studio's slow-uplink test); never
            // on outside tests.
            .env("ONAIR_TEST_HOOKS", "1")
            .current_dir(&dir.0)
            .spawn()
            .map_err(|e| Fail::new(format!("cannot start {}: {e}", bin.display())))?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{http}"),
            rtmp: format!("rtmp://127.0.0.1:{rtmp}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", http)).is_err() {
            if Instant::now() > deadline {
                return Err(Fail::new("onair did not start listening within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// SIGTERM, then the server must exit cleanly on its own (graceful shutdown).
    pub fn stop(mut self) -> Result<(), Fail> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(Fail::new(format!(
                        "onair exited with {status} after SIGTERM"
                    )));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = self.child.kill();
                    return Err(Fail::new("onair did not shut down within 15 s of SIGTERM"));
                }
            }
        }
    }
}
