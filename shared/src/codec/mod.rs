//! codec: work in progress.
