//! `onair room create|list|close|rotate-key|token`: rooms in the database under `--data`.

use std::fmt::Write as _;

use super::api::{Created, Endpoints, PlayUrls};
use super::db::{Db, Status};
use super::owner::{DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL};
use super::{RoomError, check_title, now_ms, token};
use crate::Config;
use crate::accounts::AccountError;
use crate::cli::{CliError, RoomCommand, open_db};

fn endpoints(host: &Option<String>, config: &Config) -> Endpoints {
    Endpoints {
        https: config.serves_https(),
        host: host
            .clone()
            .unwrap_or_else(|| format!("localhost:{}", config.http.port())),
        rtmp_port: config.rtmp.port(),
        rtmps_port: config.rtmps.map(|a| a.port()),
    }
}

fn print_created(out: &mut String, c: &Created) {
    let rtmp_server = c
        .push
        .rtmp
        .split_once(&format!("/{}?", c.id))
        .map_or(c.push.rtmp.as_str(), |(server, _)| server)
        .to_string();
    let _ = writeln!(out, "stream key (shown only now): {}", c.stream_key);
    let _ = writeln!(out);
    let _ = writeln!(out, "OBS / RTMP:");
    let _ = writeln!(out, "  server:     {rtmp_server}");
    let _ = writeln!(out, "  stream key: {}?key={}", c.id, c.stream_key);
    let _ = writeln!(out, "push:");
    let _ = writeln!(out, "  rtmp:    {}", c.push.rtmp);
    if let Some(rtmps) = &c.push.rtmps {
        let _ = writeln!(out, "  rtmps:   {rtmps}");
    }
    let _ = writeln!(out, "  ws-flv:  {}", c.push.ws);
    let _ = writeln!(out, "  http:    {}", c.push.http);
    print_play(out, &c.play);
}

fn print_play(out: &mut String, play: &PlayUrls) {
    let _ = writeln!(out, "watch:");
    let _ = writeln!(out, "  page:    {}", play.page);
    let _ = writeln!(out, "  flv:     {}", play.flv);
    let _ = writeln!(out, "  ws-flv:  {}", play.ws_flv);
    let _ = writeln!(out, "  hls:     {}", play.hls);
}

fn existing(db: &Db, id: &str) -> Result<super::db::Room, CliError> {
    Ok(db
        .room(id)?
        .ok_or_else(|| RoomError::NotFound(id.to_string()))?)
}

/// Runs a room subcommand; returns what to print.
pub fn run(command: &RoomCommand, config: &Config) -> Result<String, CliError> {
    let mut out = String::new();
    match command {
        RoomCommand::Create {
            title,
            host,
            owner,
            visibility,
            data,
        } => {
            let title = check_title(title)?;
            let db = open_db(data, config)?;
            let owner_id = match owner {
                Some(name) => Some(
                    db.user_by_name(name)?
                        .ok_or_else(|| AccountError::NoSuchUser(name.clone()))?
                        .0
                        .id,
                ),
                None => None,
            };
            let (id, key) = db.create_room(title, now_ms(), owner_id, *visibility)?;
            let c = Created::new(
                id,
                title.to_string(),
                key,
                *visibility,
                &endpoints(host, config),
            );
            let _ = writeln!(
                out,
                "room created: {} ({}, {})",
                c.id,
                c.title,
                visibility.as_str()
            );
            print_created(&mut out, &c);
        }
        RoomCommand::List { data } => {
            let db = open_db(data, config)?;
            for r in db.all_rooms()? {
                let _ = writeln!(
                    out,
                    "{}  {:<6} {:<8} {:<16} {}",
                    r.id,
                    r.status.as_str(),
                    r.visibility.as_str(),
                    r.owner.as_deref().unwrap_or("-"),
                    r.title
                );
            }
        }
        RoomCommand::Close { id, data } => {
            let db = open_db(data, config)?;
            existing(&db, id)?;
            db.set_status(id, Status::Closed)?;
            let _ = writeln!(out, "room closed: {id} (a running server ends its stream)");
        }
        RoomCommand::RotateKey { id, host, data } => {
            let db = open_db(data, config)?;
            let room = existing(&db, id)?;
            let key = db
                .rotate_key(id)?
                .ok_or_else(|| RoomError::NotFound(id.clone()))?;
            let c = Created::new(
                room.id,
                room.title,
                key,
                room.visibility,
                &endpoints(host, config),
            );
            let _ = writeln!(out, "new stream key for {id}; the old key no longer works");
            print_created(&mut out, &c);
        }
        RoomCommand::Token {
            id,
            ttl,
            viewer,
            host,
            data,
        } => {
            let db = open_db(data, config)?;
            existing(&db, id)?;
            if viewer
                .as_ref()
                .is_some_and(|v| v.len() > token::MAX_VIEWER_LEN)
            {
                return Err(RoomError::BadViewer.into());
            }
            let ttl = ttl
                .map_or(DEFAULT_TOKEN_TTL, std::time::Duration::from_secs)
                .min(MAX_TOKEN_TTL);
            let expires = now_ms() / 1000 + ttl.as_secs().max(1);
            let t = token::sign(&db.secret("play_token")?, id, expires, viewer.as_deref());
            let _ = writeln!(out, "token: {t}");
            let _ = writeln!(out, "expires: {} (unix seconds)", expires);
            print_play(
                &mut out,
                &PlayUrls::new(id, &endpoints(host, config), Some(&t)),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::DataArg;
    use crate::rooms::db::{KeyCheck, Visibility};

    fn config(dir: &std::path::Path) -> Config {
        Config {
            data: dir.to_path_buf(),
            ..Config::default()
        }
    }

    fn data() -> DataArg {
        DataArg { dir: None }
    }

    #[test]
    fn create_prints_key_and_obs_fields_then_rotate_close() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let cmd = RoomCommand::Create {
            title: "My show".into(),
            host: Some("tv.example:8080".into()),
            owner: None,
            visibility: Visibility::Private,
            data: data(),
        };
        let out = run(&cmd, &config).unwrap();
        assert!(
            out.contains("server:     rtmp://tv.example:1935/live\n"),
            "{out}"
        );
        let key_line = out.lines().find(|l| l.contains("stream key: ")).unwrap();
        let obs_key = key_line.split("stream key: ").nth(1).unwrap();
        let (id, key) = obs_key.split_once("?key=").unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.check_key(id, key).unwrap(), KeyCheck::Ok);

        let rotate = RoomCommand::RotateKey {
            id: id.into(),
            host: None,
            data: data(),
        };
        let out = run(&rotate, &config).unwrap();
        assert_eq!(
            db.check_key(id, key).unwrap(),
            KeyCheck::Wrong,
            "old key refused"
        );
        let new_key = out
            .lines()
            .find_map(|l| l.strip_prefix("stream key (shown only now): "))
            .unwrap();
        assert_eq!(db.check_key(id, new_key).unwrap(), KeyCheck::Ok);

        let tok = RoomCommand::Token {
            id: id.into(),
            ttl: Some(60),
            viewer: Some("v1".into()),
            host: None,
            data: data(),
        };
        let out = run(&tok, &config).unwrap();
        let t = out.lines().find_map(|l| l.strip_prefix("token: ")).unwrap();
        let secret = db.secret("play_token").unwrap();
        assert_eq!(
            token::verify(&secret, id, t, now_ms() / 1000),
            Ok(Some("v1".into()))
        );

        let list = run(&RoomCommand::List { data: data() }, &config).unwrap();
        assert!(list.contains(id) && list.contains("private"), "{list}");
        run(
            &RoomCommand::Close {
                id: id.into(),
                data: data(),
            },
            &config,
        )
        .unwrap();
        assert_eq!(db.check_key(id, new_key).unwrap(), KeyCheck::Closed);
        let bad = RoomCommand::Create {
            title: " ".into(),
            host: None,
            owner: Some("nobody".into()),
            visibility: Visibility::Public,
            data: data(),
        };
        assert!(run(&bad, &config).is_err());
    }
}
