//! Property tests: arbitrary tags → mux → demux at random split points = the same tags;
//! random bytes never panic the demuxer and keep its buffer bounded. Native only
//! (proptest is not available on wasm32).
#![cfg(not(target_arch = "wasm32"))]

use bytes::{Bytes, BytesMut};
use onair_shared::flv::{
    DemuxEvent, Demuxer, FlvHeader, MediaKind, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_SIZE, Tag,
    write_header, write_tag,
};
use proptest::prelude::*;

const MAX_TAG: usize = 2048;

fn tag() -> impl Strategy<Value = Tag> {
    (
        prop_oneof![
            Just(MediaKind::Audio),
            Just(MediaKind::Video),
            Just(MediaKind::Script)
        ],
        any::<u32>(),
        prop_oneof![Just(0u32), 0u32..0x100_0000],
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(kind, timestamp, stream_id, data)| Tag {
            kind,
            timestamp,
            stream_id,
            data: Bytes::from(data),
        })
}

/// Splits `bytes` at the given (unsorted, possibly repeated or out-of-range) offsets.
fn pieces(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= bytes.len() + 1);
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.windows(2)
        .filter_map(|w| match w {
            [a, b] => bytes.get(*a..*b),
            _ => None,
        })
        .collect()
}

fn feed(d: &mut Demuxer, pieces: &[&[u8]]) -> Result<Vec<DemuxEvent>, String> {
    let mut events = Vec::new();
    for piece in pieces {
        d.push(piece);
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        if d.buffered_len() > MAX_TAG + TAG_HEADER_SIZE + PREVIOUS_TAG_SIZE_LEN {
            return Err(format!("buffer grew to {}", d.buffered_len()));
        }
    }
    Ok(events)
}

proptest! {
    #[test]
    fn mux_then_demux_is_identity(
        has_audio in any::<bool>(),
        has_video in any::<bool>(),
        tags in prop::collection::vec(tag(), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let header = FlvHeader::new(has_audio, has_video);
        let mut out = BytesMut::new();
        write_header(&header, &mut out);
        for t in &tags {
            prop_assert_eq!(write_tag(t, &mut out), Ok(()));
        }
        let mut d = Demuxer::new(MAX_TAG);
        let events = feed(&mut d, &pieces(&out, cuts));
        let mut want = vec![DemuxEvent::Header(header)];
        want.extend(tags.into_iter().map(DemuxEvent::Tag));
        prop_assert_eq!(events, Ok(want));
        prop_assert!(d.at_tag_boundary());
        prop_assert_eq!(d.previous_tag_size_mismatches(), 0);
    }

    #[test]
    fn bare_tag_stream_round_trips(
        tags in prop::collection::vec(tag(), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut out = BytesMut::new();
        for t in &tags {
            prop_assert_eq!(write_tag(t, &mut out), Ok(()));
        }
        let mut d = Demuxer::without_header(MAX_TAG);
        let events = feed(&mut d, &pieces(&out, cuts));
        let want: Vec<_> = tags.into_iter().map(DemuxEvent::Tag).collect();
        prop_assert_eq!(events, Ok(want));
    }

    #[test]
    fn random_bytes_never_panic(
        with_header in any::<bool>(),
        prefix_flv in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        // A valid header in front gets the random bytes past the signature check.
        let mut input = if prefix_flv { b"FLV\x01\x05\x00\x00\x00\x09".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let mut d = if with_header { Demuxer::new(MAX_TAG) } else { Demuxer::without_header(MAX_TAG) };
        if let Err(e) = feed(&mut d, &pieces(&input, cuts)) {
            prop_assert!(!e.starts_with("buffer grew"), "{}", e);
        }
    }
}
