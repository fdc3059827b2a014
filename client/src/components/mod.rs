//! Reusable components (no web-sys here: they go through `hooks/` and `services/`).

pub mod chat;
pub mod manage;
pub mod player;
pub mod signin;
pub mod studio_panels;
