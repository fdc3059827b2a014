//! Browser end-to-end tests: a real release `onair` (client embedded) on free loopback ports,
//! driven by Playwright in Debian's Chromium through `node --test e2e/`.

use std::path::Path;

use crate::launcher::Onair;
use crate::tools::{self, Fail, root, run, run_in, step};

pub fn run_e2e() -> Result<(), Fail> {
    let dist = crate::build_client()?;
    tools::ensure_system_tools()?;
    run_e2e_with(&dist)
}

pub fn run_e2e_with(_dist: &Path) -> Result<(), Fail> {
    prepare()?;
    node_against_server(
        &["--test", "--test-concurrency=1", "--test-reporter=spec"],
        |url| format!("browser tests against {url}"),
        "see the failing browser test and the server log above",
    )
}

/// Runs `node ARGS…` in `e2e/` against a fresh [`start_server`] (its addresses in
/// `ONAIR_URL` and `ONAIR_RTMP`, its admin token in `ONAIR_ADMIN_TOKEN`, the release binary
/// in `ONAIR_BIN` for tests that start their own (TLS) server, the browser in `CHROMIUM`),
/// announced by `what(url)`. Prints the server's log when node fails; the server must then
/// stop cleanly.
pub fn node_against_server(
    args: &[&str],
    what: impl FnOnce(&str) -> String,
    hint: &str,
) -> Result<(), Fail> {
    let (server, admin_token) = start_server()?;
    step(&what(&server.url()));
    let bin = tools::target_dir().join("release/onair");
    let result = run_in(
        &root().join("e2e"),
        "node",
        args,
        &[
            ("ONAIR_URL", server.url().as_str()),
            ("ONAIR_RTMP", server.rtmp_url().as_str()),
            ("ONAIR_ADMIN_TOKEN", admin_token.as_str()),
            ("ONAIR_BIN", bin.to_str().unwrap_or("onair")),
            ("CHROMIUM", tools::chromium_path().as_str()),
        ],
        hint,
    );
    if result.is_err() {
        server.print_log();
    }
    let stopped = server.stop_clean();
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

/// The server the browser tests (and `bench g2g`) drive: the release `onair` from an empty
/// directory (see [`Onair::start`]), open for publishing, with its test hooks on and a
/// random admin token (returned: the tests create their users with it).
pub fn start_server() -> Result<(Onair, String), Fail> {
    let admin_token = tools::random_hex(16)?;
    let server = Onair::start(
        "e2e",
        // Some browser tests push their own streams (ffmpeg, the studio) by name, without
        // room keys.
        &["--open-publish"],
        &[
            // Test hooks (a throttled WS-FLV push for the studio's slow-uplink test); never
            // on outside tests.
            ("ONAIR_TEST_HOOKS", "1"),
            ("ONAIR_ADMIN_TOKEN", admin_token.as_str()),
        ],
    )?;
    Ok((server, admin_token))
}
