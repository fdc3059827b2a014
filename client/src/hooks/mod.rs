//! Hooks own browser-backed objects from `services/` and release them on unmount.

pub mod use_chat;
pub mod use_my_rooms;
pub mod use_player;
pub mod use_rooms;
pub mod use_session;
pub mod use_studio;
