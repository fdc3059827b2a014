//! Finding, installing and running the tools the pipelines need. Every failure says what to
//! do next, because the first person to read it is a newcomer on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The trunk release that builds with this machine's rustc (0.22 needs a newer one).
const TRUNK_VERSION: &str = "0.21.14";

/// A failed step: what went wrong and, when we know it, what to do about it.
#[derive(Debug)]
pub struct Fail {
    pub what: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            hint: None,
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The workspace root (the parent of this crate).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Cargo's target directory (`CARGO_TARGET_DIR` when set, else `target/` in the repository).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs a command in the workspace root with inherited output; fails with `hint` otherwise.
pub fn run(program: &str, args: &[&str], hint: &str) -> Result<(), Fail> {
    run_in(&root(), program, args, &[], hint)
}

pub fn run_in(
    dir: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    hint: &str,
) -> Result<(), Fail> {
    println!("    $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| Fail::new(format!("cannot start `{program}`: {e}")).hint(hint))?;
    if status.success() {
        Ok(())
    } else {
        Err(Fail::new(format!(
            "`{program} {}` exited with {status}",
            args.join(" ")
        ))
        .hint(hint))
    }
}

/// The first line a tool prints for `--version`, or None when it is not installed.
pub fn version_of(program: &str) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

pub fn ensure_wasm_target() -> Result<(), Fail> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(o)
            if String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-unknown-unknown") =>
        {
            Ok(())
        }
        Ok(_) => {
            step("adding the wasm32-unknown-unknown target");
            run(
                "rustup",
                &["target", "add", "wasm32-unknown-unknown"],
                "check that rustup can reach its download server",
            )
        }
        Err(_) => Err(
            Fail::new("rustup is not installed, so the wasm32 target cannot be added")
                .hint("install the wasm32-unknown-unknown target for your Rust toolchain"),
        ),
    }
}

/// The exact `wasm-bindgen` version pinned in the root Cargo.toml (`=X.Y.Z`).
pub fn pinned_wasm_bindgen() -> Result<String, Fail> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .map_err(|e| Fail::new(format!("cannot read Cargo.toml: {e}")))?;
    manifest
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("wasm-bindgen = \"=")
                .and_then(|r| r.strip_suffix('"'))
        })
        .map(str::to_string)
        .ok_or_else(|| {
            Fail::new("Cargo.toml does not pin wasm-bindgen as `wasm-bindgen = \"=X.Y.Z\"`")
        })
}

/// wasm-bindgen-cli matching the pinned crate: trunk uses it offline, and its
/// `wasm-bindgen-test-runner` runs shared's tests on wasm32.
pub fn ensure_wasm_bindgen() -> Result<(), Fail> {
    let want = pinned_wasm_bindgen()?;
    if version_of("wasm-bindgen")
        .is_some_and(|v| v.split_whitespace().nth(1) == Some(want.as_str()))
        && version_of("wasm-bindgen-test-runner").is_some()
    {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {want} (matches the pinned wasm-bindgen; a few minutes)"
    ));
    let locked = run(
        "cargo",
        &[
            "install",
            "wasm-bindgen-cli",
            "--version",
            &want,
            "--locked",
            "--force",
        ],
        "",
    );
    if locked.is_err() {
        // The registry lacks one dependency of its lock file, so retry with fresh resolution.
        println!("    --locked did not build; retrying without it");
        run(
            "cargo",
            &["install", "wasm-bindgen-cli", "--version", &want, "--force"],
            "check that crates.io is reachable; then run `cargo xtask run` again",
        )?;
    }
    Ok(())
}

pub fn ensure_trunk() -> Result<(), Fail> {
    if version_of("trunk").is_some_and(|v| v.contains(TRUNK_VERSION)) {
        return Ok(());
    }
    step(&format!(
        "installing trunk {TRUNK_VERSION} (builds from source: about 11 minutes on 2 cores)"
    ));
    run(
        "cargo",
        &[
            "install",
            "trunk",
            "--version",
            TRUNK_VERSION,
            "--locked",
            "--force",
        ],
        "check that crates.io is reachable; then run the command again",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_install(packages: &[&str]) -> Result<(), Fail> {
    let manual = format!(
        "install them yourself (Debian: apt-get install {}) or set ONAIR_SKIP_E2E=1",
        packages.join(" ")
    );
    if !is_root() || version_of("apt-get").is_none() {
        return Err(Fail::new(format!(
            "missing {} and cannot install it here (needs root and apt-get)",
            packages.join(", ")
        ))
        .hint(manual));
    }
    step(&format!("installing {} with apt-get", packages.join(" ")));
    run_in(&root(), "apt-get", &["update", "-q"], &[], &manual)?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run_in(
        &root(),
        "apt-get",
        &args,
        &[("DEBIAN_FRONTEND", "noninteractive")],
        &manual,
    )
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The real clients the tests drive: ffmpeg/ffprobe, GStreamer's rtmp2 elements, librtmp's
/// rtmpdump, and chromium for the browser tests.
pub fn ensure_system_tools() -> Result<(), Fail> {
    let mut missing = Vec::new();
    if !runs("ffmpeg", &["-version"]) || !runs("ffprobe", &["-version"]) {
        missing.push("ffmpeg");
    }
    let gst = ["rtmp2sink", "x264enc", "avenc_aac", "avdec_h264"];
    if !gst
        .iter()
        .all(|element| runs("gst-inspect-1.0", &[element]))
    {
        missing.extend([
            "gstreamer1.0-tools",
            "gstreamer1.0-plugins-base",
            "gstreamer1.0-plugins-good",
            "gstreamer1.0-plugins-bad",
            "gstreamer1.0-plugins-ugly",
            "gstreamer1.0-libav",
        ]);
    }
    if !runs("rtmpdump", &["-h"]) {
        missing.push("rtmpdump");
    }
    if !Path::new(&chromium_path()).exists() {
        missing.push("chromium");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        apt_install(&missing)
    }
}

pub fn chromium_path() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

pub fn ensure_node() -> Result<(), Fail> {
    if version_of("node").is_some() && version_of("npm").is_some() {
        return Ok(());
    }
    apt_install(&["nodejs", "npm"])
}

/// Prints the gzipped size of each wasm file in `dist`.
pub fn print_wasm_size(dist: &Path) -> Result<(), Fail> {
    step("client wasm size");
    let entries = std::fs::read_dir(dist)
        .map_err(|e| Fail::new(format!("cannot read {}: {e}", dist.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let raw = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let gz = Command::new("gzip")
                .args(["-9", "-c"])
                .arg(&path)
                .output()
                .map_err(|e| Fail::new(format!("cannot run gzip: {e}")))?;
            println!(
                "    {}: {:.1} KiB raw, {:.1} KiB gzipped",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
                raw as f64 / 1024.0,
                gz.stdout.len() as f64 / 1024.0
            );
        }
    }
    Ok(())
}

/// A directory removed on drop (std has no tempdir; xtask stays dependency-free).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `$TMPDIR/onair-{what}-{pid}`, emptied first.
    pub fn new(what: &str) -> Result<Self, Fail> {
        let path = std::env::temp_dir().join(format!("onair-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|e| Fail::new(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nobody listens on right now (for servers started by the pipelines).
pub fn free_port() -> Result<u16, Fail> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Fail::new(format!("cannot find a free port: {e}")))
}

/// `bytes` random bytes from the kernel, as lowercase hex (secrets for test servers).
pub fn random_hex(bytes: usize) -> Result<String, Fail> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Fail::new(format!("cannot read /dev/urandom: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
