//! Fuzz target: the WebM demuxer on arbitrary bytes, fed whole and in arbitrary splits,
//! with small size limits. Checks: no panic; the same events and error whatever the
//! splits; errors are sticky; the buffer stays bounded; and the H.264/Opus converters
//! never panic on whatever tracks and frames come out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onair_shared::webm::{AvcConverter, Demuxer, Limits, WebmError, WebmEvent, opus_head};

const LIMITS: Limits = Limits {
    max_block_size: 1024,
    max_header_size: 512,
};
/// The largest element header: a 4-byte ID and an 8-byte size.
const MAX_HEADER: usize = 12;

struct Run {
    events: Vec<WebmEvent>,
    error: Option<WebmError>,
}

fn run(pieces: &[&[u8]]) -> Run {
    let mut d = Demuxer::new(LIMITS);
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
                    };
                }
            }
        }
        assert!(
            d.buffered_len() <= LIMITS.max_block_size + MAX_HEADER,
            "buffer grew to {}",
            d.buffered_len()
        );
    }
    Run {
        events,
        error: None,
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte seeds the split sizes; the rest is the stream. Most inputs would die at
    // the EBML magic, so bit 0 of the seed prepends a valid EBML header and an
    // unknown-size Segment header, to reach the Segment's children quickly.
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let mut stream = Vec::new();
    if control & 1 == 1 {
        stream.extend_from_slice(b"\x1a\x45\xdf\xa3\x87\x42\x82\x84webm");
        stream.extend_from_slice(b"\x18\x53\x80\x67\xff");
    }
    stream.extend_from_slice(input);

    let whole = run(&[&stream]);

    let mut pieces = Vec::new();
    let mut rest = &stream[..];
    let mut seed = u32::from(control >> 1) + 1;
    while !rest.is_empty() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((seed >> 16) as usize % 40 + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        pieces.push(head);
        rest = tail;
    }
    let split = run(&pieces);
    assert_eq!(whole.events, split.events, "events depend on the split");
    assert_eq!(whole.error, split.error, "error depends on the split");

    // The converters must take whatever the demuxer hands out.
    let mut avc = Vec::new();
    for e in &whole.events {
        match e {
            WebmEvent::Tracks(tracks) => {
                avc.clear();
                for t in tracks {
                    let _ = opus_head(t);
                    if let Ok(c) = AvcConverter::new(t) {
                        avc.push((t.number, c));
                    }
                }
            }
            WebmEvent::Frame { track, data, .. } => {
                for (n, c) in &mut avc {
                    if n == track {
                        let _ = c.convert(data);
                    }
                }
            }
        }
    }
});
