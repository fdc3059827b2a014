//! FLV video tag bodies: work in progress.
