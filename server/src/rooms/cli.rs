//! `onair room create "TITLE"`: creates a room in the database under `--data` (the server
//! may be running: SQLite's WAL lets both use the file) and prints its key and URLs.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::api::Created;
use super::db::Db;
use super::{RoomError, check_title};
use crate::Config;

/// Subcommands of `onair`; without one, it serves.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Manage rooms
    #[command(subcommand)]
    Room(RoomCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RoomCommand {
    /// Create a room and print its stream key (shown only this once) and URLs
    Create {
        /// Room title, 1-100 characters
        title: String,
        /// Host name (and optional :port) viewers and OBS reach this server at
        /// [default: localhost and the HTTP port]
        #[arg(long)]
        host: Option<String>,
        /// Data directory holding the database (the same as `onair --data DIR room create`)
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

/// Runs a subcommand; returns what to print.
pub fn run(command: &Command, config: &Config) -> Result<String, RoomError> {
    let Command::Room(RoomCommand::Create { title, host, data }) = command;
    let title = check_title(title)?;
    let data = data.as_ref().unwrap_or(&config.data);
    std::fs::create_dir_all(data).map_err(|e| RoomError::DataDir(e.to_string()))?;
    let db = Db::open(data)?;
    let (id, key) = db.create_room(title, super::now_ms())?;
    let host = host
        .clone()
        .unwrap_or_else(|| format!("localhost:{}", config.http.port()));
    let c = Created::new(id, title.to_string(), key, &host, config.rtmp.port());
    let rtmp_server = c
        .push
        .rtmp
        .split_once(&format!("/{}?", c.id))
        .map_or(c.push.rtmp.as_str(), |(server, _)| server)
        .to_string();
    let mut out = String::new();
    let _ = writeln!(out, "room created: {} ({})", c.id, c.title);
    let _ = writeln!(out, "stream key (shown only now): {}", c.stream_key);
    let _ = writeln!(out);
    let _ = writeln!(out, "OBS / RTMP:");
    let _ = writeln!(out, "  server:     {rtmp_server}");
    let _ = writeln!(out, "  stream key: {}?key={}", c.id, c.stream_key);
    let _ = writeln!(out, "push:");
    let _ = writeln!(out, "  rtmp:    {}", c.push.rtmp);
    let _ = writeln!(out, "  ws-flv:  {}", c.push.ws);
    let _ = writeln!(out, "  http:    {}", c.push.http);
    let _ = writeln!(out, "watch:");
    let _ = writeln!(out, "  page:    {}", c.play.page);
    let _ = writeln!(out, "  flv:     {}", c.play.flv);
    let _ = writeln!(out, "  ws-flv:  {}", c.play.ws_flv);
    let _ = writeln!(out, "  hls:     {}", c.play.hls);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_prints_key_and_obs_fields() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data: dir.path().to_path_buf(),
            ..Config::default()
        };
        let cmd = Command::Room(RoomCommand::Create {
            title: "My show".into(),
            host: Some("tv.example:8080".into()),
            data: None,
        });
        let out = run(&cmd, &config).unwrap();
        assert!(
            out.contains("server:     rtmp://tv.example:1935/live\n"),
            "{out}"
        );
        let key_line = out.lines().find(|l| l.contains("stream key: ")).unwrap();
        let obs_key = key_line.split("stream key: ").nth(1).unwrap();
        let (id, key) = obs_key.split_once("?key=").unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(
            db.check_key(id, key).unwrap(),
            super::super::db::KeyCheck::Ok
        );
        assert!(
            run(
                &Command::Room(RoomCommand::Create {
                    title: " ".into(),
                    host: None,
                    data: None,
                }),
                &config
            )
            .is_err()
        );
    }
}
