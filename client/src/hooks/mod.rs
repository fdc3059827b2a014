//! Hooks own browser-backed objects from `services/` and release them on unmount.

pub mod use_chat;
pub mod use_player;
pub mod use_rooms;
pub mod use_studio;
