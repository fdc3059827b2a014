//! The FLV reading the support modules share (included with `#[path]` by `fmp4_support` and
//! `rtmp_support`): every tag of a whole file through the crate's own FLV demuxer, which
//! `flv_golden.rs` and `flv_roundtrip.rs` test on their own.

use onair_shared::flv::{DemuxEvent, Demuxer, Tag};

/// Every tag of a whole FLV file, in file order.
pub fn flv_tags(bytes: &[u8]) -> Vec<Tag> {
    let mut demuxer = Demuxer::new(1 << 24);
    demuxer.push(bytes);
    let mut tags = Vec::new();
    while let Some(event) = demuxer.next_event().expect("valid FLV") {
        if let DemuxEvent::Tag(tag) = event {
            tags.push(tag);
        }
    }
    tags
}
