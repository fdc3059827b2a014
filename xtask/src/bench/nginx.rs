//! nginx-rtmp for `bench fanout --against nginx`: installed with apt-get when missing, one
//! worker, a generated config, on a free loopback port.

use std::path::Path;
use std::process::Command;

use crate::launcher::{Process, with_fd_limit};
use crate::tools::{self, Fail, TempDir, step};

/// nginx-rtmp running from its own temp directory (config, logs, pid file).
pub struct Nginx {
    // Dropped in this order: the server stops before its directory is removed.
    pub process: Process,
    pub port: u16,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx-rtmp with room for `viewers` connections; returns once its port accepts.
    pub fn start(viewers: usize) -> Result<Self, Fail> {
        let module = ensure_nginx()?;
        let port = tools::free_port()?;
        let dir = TempDir::new("bench-nginx")?;
        let ngx = &dir.0;
        std::fs::create_dir_all(ngx.join("logs"))
            .map_err(|e| Fail::new(format!("cannot create {}: {e}", ngx.display())))?;
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
        let mut process = Process::spawn(with_fd_limit(Path::new("nginx"), &args), &log, "nginx")?;
        process.wait_port(port)?;
        Ok(Self {
            process,
            port,
            _dir: dir,
        })
    }
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
