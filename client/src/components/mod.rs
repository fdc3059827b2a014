//! Reusable components (no web-sys here: they go through `hooks/` and `services/`).

pub mod chat;
pub mod player;
