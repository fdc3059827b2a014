//! flv: work in progress.
pub mod audio;
pub mod video;
