//! Fuzz target: the FLV demuxer on arbitrary bytes, fed whole and in arbitrary splits, with
//! a small tag-size limit. Checks: no panic; the same events and error whatever the
//! splits; the buffer stays bounded; and a clean parse re-muxes to the input bytes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use onair_shared::flv::{
    DemuxEvent, Demuxer, FlvError, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_SIZE, write_header, write_tag,
};

const MAX_TAG: usize = 512;

struct Run {
    events: Vec<DemuxEvent>,
    error: Option<FlvError>,
    mismatches: u64,
}

fn run(mut d: Demuxer, pieces: &[&[u8]]) -> Run {
    let mut events = Vec::new();
    for piece in pieces {
        d.push(piece);
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(error) => {
                    assert_eq!(d.next_event(), Err(error.clone()), "error is not sticky");
                    return Run {
                        events,
                        error: Some(error),
                        mismatches: d.previous_tag_size_mismatches(),
                    };
                }
            }
        }
        assert!(
            d.buffered_len() <= MAX_TAG + TAG_HEADER_SIZE + PREVIOUS_TAG_SIZE_LEN,
            "buffer grew to {}",
            d.buffered_len()
        );
    }
    Run {
        events,
        error: None,
        mismatches: d.previous_tag_size_mismatches(),
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: bit 0 picks file vs bare-tag mode, the rest seeds the split sizes.
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let with_header = control & 1 == 0;
    let make = || {
        if with_header {
            Demuxer::new(MAX_TAG)
        } else {
            Demuxer::without_header(MAX_TAG)
        }
    };

    let whole = run(make(), &[input]);

    let mut pieces = Vec::new();
    let mut rest = input;
    let mut seed = u32::from(control >> 1) + 1;
    while !rest.is_empty() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((seed >> 16) as usize % 40 + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        pieces.push(head);
        rest = tail;
    }
    let split = run(make(), &pieces);
    assert_eq!(whole.events, split.events, "events depend on the split");
    assert_eq!(whole.error, split.error, "error depends on the split");
    assert_eq!(whole.mismatches, split.mismatches);

    // Without errors or wrong trailers, muxing the events gives back the input's bytes,
    // as far as the input goes (the header is only canonical with offset 9 and no
    // reserved flag bits).
    let canonical_header = !with_header
        || (input.get(4).is_some_and(|f| f & !0x05 == 0)
            && input.get(5..9) == Some(&[0, 0, 0, 9][..]));
    if whole.error.is_none() && whole.mismatches == 0 && canonical_header {
        let mut out = BytesMut::new();
        for e in &whole.events {
            match e {
                DemuxEvent::Header(h) => write_header(h, &mut out),
                DemuxEvent::Tag(t) => assert!(write_tag(t, &mut out).is_ok()),
            }
        }
        let n = out.len().min(input.len());
        // A trailer not fully received yet is not compared: it was not checked either.
        let n = if out.len() > input.len() {
            n.saturating_sub(PREVIOUS_TAG_SIZE_LEN)
        } else {
            n
        };
        assert_eq!(out.get(..n), input.get(..n), "remux differs from input");
    }
});
