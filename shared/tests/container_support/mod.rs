//! Whole container files read back, shared by the test support modules (included with
//! `#[path]` by `fmp4_support`, `rtmp_support` and onair-server's `tests/support/mod.rs`):
//! FLV tags through the crate's own FLV demuxer (which `flv_golden.rs` and
//! `flv_roundtrip.rs` test on their own), and the packets of an Ogg stream.

use bytes::Bytes;
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

/// The packets of an Ogg file with one logical stream, joined from their lacing values.
pub fn ogg_packets(data: &[u8]) -> Vec<Bytes> {
    let mut packets = Vec::new();
    let mut partial = Vec::new();
    let mut pos = 0;
    while pos + 27 <= data.len() {
        assert_eq!(&data[pos..pos + 4], b"OggS", "Ogg page at {pos}");
        let segments = usize::from(data[pos + 26]);
        let table = &data[pos + 27..pos + 27 + segments];
        let mut body = pos + 27 + segments;
        for &lacing in table {
            partial.extend_from_slice(&data[body..body + usize::from(lacing)]);
            body += usize::from(lacing);
            if lacing < 255 {
                packets.push(Bytes::from(std::mem::take(&mut partial)));
            }
        }
        pos = body;
    }
    packets
}
