//! `onair user …` and `onair room …`: manage accounts and rooms in the database under
//! `--data`, with or without the server running (SQLite's WAL lets both use the file; the
//! server notices closed rooms and new keys within seconds).

use std::path::PathBuf;

use crate::Config;
use crate::accounts::Role;
use crate::rooms::db::Visibility;

/// Subcommands of `onair`; without one, it serves.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Manage rooms
    #[command(subcommand)]
    Room(RoomCommand),
    /// Manage accounts (admins, streamers, moderators)
    #[command(subcommand)]
    User(UserCommand),
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
        /// The streamer who owns the room
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
        /// Who may watch: public (listed), unlisted (by link) or private (with a token)
        #[arg(long, value_parser = parse_visibility, default_value = "public")]
        visibility: Visibility,
        #[command(flatten)]
        data: DataArg,
    },
    /// List every room (closed ones too)
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Close a room: its stream ends and its key stops working
    Close {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Give a room a new stream key (printed once); the old key stops working
    RotateKey {
        id: String,
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
    /// Print a play link for a private room
    Token {
        id: String,
        /// Seconds the link works [default: 86400]
        #[arg(long, value_name = "SECS")]
        ttl: Option<u64>,
        /// A viewer id to put into the token
        #[arg(long)]
        viewer: Option<String>,
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Add an account; prints a generated password unless --password-stdin is given
    Add {
        name: String,
        #[arg(long, value_enum, default_value = "streamer")]
        role: Role,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// List accounts
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Remove an account (its rooms stay, without an owner)
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Set a new password (and sign the user out everywhere)
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct DataArg {
    /// Data directory holding the database (the same as `onair --data DIR …`)
    #[arg(long = "data", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn parse_visibility(s: &str) -> Result<Visibility, String> {
    Visibility::parse(s).ok_or_else(|| "use public, unlisted or private".into())
}

/// Why a command failed; printed by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Room(#[from] crate::rooms::RoomError),
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    Db(#[from] crate::rooms::db::DbError),
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
}

/// Runs a subcommand; returns what to print. `stdin` supplies `--password-stdin`.
pub fn run(
    command: &Command,
    config: &Config,
    stdin: &mut dyn std::io::BufRead,
) -> Result<String, CliError> {
    match command {
        Command::Room(c) => crate::rooms::cli::run(c, config),
        Command::User(c) => crate::accounts::cli::run(c, config, stdin),
    }
}

/// Opens the database in `--data DIR` (the subcommand's, else the server's).
pub fn open_db(data: &DataArg, config: &Config) -> Result<crate::rooms::db::Db, CliError> {
    let dir = data.dir.as_ref().unwrap_or(&config.data);
    std::fs::create_dir_all(dir).map_err(|e| CliError::DataDir(dir.clone(), e))?;
    Ok(crate::rooms::db::Db::open(dir)?)
}
