//! FLV audio tag bodies: work in progress.
