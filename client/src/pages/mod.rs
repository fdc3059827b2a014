//! One component per route.

pub mod lobby;
pub mod not_found;
pub mod signin;
pub mod studio;
pub mod watch;
