//! flv: work in progress.
