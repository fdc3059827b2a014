//! rtmp: work in progress.
