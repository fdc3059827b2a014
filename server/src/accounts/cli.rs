//! `onair user add|list|remove|passwd`.

use std::fmt::Write as _;

use super::store::AddUser;
use super::{AccountError, password, valid_user_name};
use crate::Config;
use crate::cli::{CliError, UserCommand, open_db};
use crate::rooms::now_ms;

fn read_password(stdin: &mut dyn std::io::BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    stdin.read_line(&mut line).map_err(CliError::Stdin)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The password given on stdin (checked), or a new random one to print.
fn new_password(
    from_stdin: bool,
    stdin: &mut dyn std::io::BufRead,
) -> Result<(String, bool), CliError> {
    if from_stdin {
        let p = read_password(stdin)?;
        if let Some(why) = password::weakness(&p) {
            return Err(AccountError::WeakPassword(why).into());
        }
        Ok((p, false))
    } else {
        let p = crate::secret::random_token().map_err(|e| AccountError::Db(e.into()))?;
        Ok((p[..20].to_string(), true))
    }
}

pub fn run(
    command: &UserCommand,
    config: &Config,
    stdin: &mut dyn std::io::BufRead,
) -> Result<String, CliError> {
    let mut out = String::new();
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            data,
        } => {
            if !valid_user_name(name) {
                return Err(AccountError::BadName.into());
            }
            let db = open_db(data, config)?;
            let (pass, generated) = new_password(*password_stdin, stdin)?;
            let hash = password::hash(&pass).map_err(AccountError::from)?;
            match db.add_user(name, *role, Some(&hash), now_ms())? {
                AddUser::Added(_) => {}
                AddUser::NameTaken => return Err(AccountError::NameTaken(name.clone()).into()),
            }
            let _ = writeln!(out, "user added: {name} ({})", role.as_str());
            if generated {
                let _ = writeln!(out, "password (shown only now): {pass}");
            }
        }
        UserCommand::List { data } => {
            let db = open_db(data, config)?;
            for u in db.users()? {
                let note = if u.has_password {
                    ""
                } else {
                    "  (no password yet)"
                };
                let _ = writeln!(out, "{:<32} {}{note}", u.name, u.role.as_str());
            }
        }
        UserCommand::Remove { name, data } => {
            let db = open_db(data, config)?;
            if !db.remove_user(name)? {
                return Err(AccountError::NoSuchUser(name.clone()).into());
            }
            let _ = writeln!(out, "user removed: {name}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
            data,
        } => {
            let db = open_db(data, config)?;
            let (user, _) = db
                .user_by_name(name)?
                .ok_or_else(|| AccountError::NoSuchUser(name.clone()))?;
            let (pass, generated) = new_password(*password_stdin, stdin)?;
            let hash = password::hash(&pass).map_err(AccountError::from)?;
            db.set_password(user.id, &hash)?;
            db.drop_sessions_of(user.id)?;
            let _ = writeln!(
                out,
                "password changed for {name}; their sessions were ended"
            );
            if generated {
                let _ = writeln!(out, "password (shown only now): {pass}");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::DataArg;

    #[test]
    fn add_list_passwd_remove() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data: dir.path().to_path_buf(),
            ..Config::default()
        };
        let data = || DataArg { dir: None };
        let add = UserCommand::Add {
            name: "ann".into(),
            role: crate::accounts::Role::Streamer,
            password_stdin: true,
            data: data(),
        };
        let out = run(&add, &config, &mut &b"hunter2hunter2\n"[..]).unwrap();
        assert!(out.contains("user added: ann (streamer)"), "{out}");
        assert!(
            run(&add, &config, &mut &b"hunter2hunter2\n"[..]).is_err(),
            "taken"
        );
        let weak = UserCommand::Add {
            name: "bob".into(),
            role: crate::accounts::Role::Admin,
            password_stdin: true,
            data: data(),
        };
        assert!(run(&weak, &config, &mut &b"short\n"[..]).is_err());
        let db = crate::rooms::db::Db::open(dir.path()).unwrap();
        let (_, hash) = db.user_by_name("ann").unwrap().unwrap();
        assert!(password::verify("hunter2hunter2", &hash.unwrap()));

        let passwd = UserCommand::Passwd {
            name: "ann".into(),
            password_stdin: false,
            data: data(),
        };
        let out = run(&passwd, &config, &mut &b""[..]).unwrap();
        let generated = out.lines().last().unwrap().rsplit(' ').next().unwrap();
        let (_, hash) = db.user_by_name("ann").unwrap().unwrap();
        assert!(password::verify(generated, &hash.unwrap()), "{out}");

        let list = run(&UserCommand::List { data: data() }, &config, &mut &b""[..]).unwrap();
        assert!(list.contains("ann") && list.contains("streamer"), "{list}");
        let rm = UserCommand::Remove {
            name: "ann".into(),
            data: data(),
        };
        run(&rm, &config, &mut &b""[..]).unwrap();
        assert!(run(&rm, &config, &mut &b""[..]).is_err());
    }
}
