//! Property tests of the WebM demuxer: random bytes (bare, or behind a valid EBML header
//! and Segment, or a mutated golden recording) never panic, keep the buffer bounded and
//! give the same events and error at arbitrary split points; arbitrary splits of the
//! golden recording give its events. Native only (proptest is not available on wasm32).
#![cfg(not(target_arch = "wasm32"))]

use onair_shared::webm::{Demuxer, Limits, WebmError, WebmEvent};
use proptest::prelude::*;

const CHROME: &[u8] = include_bytes!("data/chrome_h264_opus.webm");

const LIMITS: Limits = Limits {
    max_block_size: 4096,
    max_header_size: 1024,
};

/// An EBML header (`DocType` "webm") and an unknown-size Segment.
const PREFIX: &[u8] = b"\x1a\x45\xdf\xa3\x87\x42\x82\x84webm\x18\x53\x80\x67\xff";

/// Feeds `bytes` cut at `cuts` (sorted, deduplicated offsets) and returns the events and
/// the error, checking the buffer bound after every drain.
fn run(bytes: &[u8], cuts: &[usize], limits: Limits) -> (Vec<WebmEvent>, Option<WebmError>) {
    let mut d = Demuxer::new(limits);
    let mut events = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain([&bytes.len()]) {
        let end = end.min(bytes.len());
        if end < start {
            continue;
        }
        d.push(&bytes[start..end]);
        start = end;
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
        let bound = limits.max_block_size.max(limits.max_header_size) + 12;
        assert!(d.buffered_len() <= bound, "buffered {}", d.buffered_len());
    }
    (events, None)
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..40).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic_and_ignore_splits(
        data in prop::collection::vec(any::<u8>(), 0..600),
        with_prefix in any::<bool>(),
        cuts in cuts(620),
    ) {
        let mut bytes = if with_prefix { PREFIX.to_vec() } else { Vec::new() };
        bytes.extend(data);
        let whole = run(&bytes, &[], LIMITS);
        prop_assert_eq!(run(&bytes, &cuts, LIMITS), whole);
    }

    #[test]
    fn golden_at_arbitrary_splits(cuts in cuts(CHROME.len())) {
        let whole = run(CHROME, &[], Limits::default());
        prop_assert_eq!(whole.1.clone(), None);
        prop_assert_eq!(run(CHROME, &cuts, Limits::default()), whole);
    }

    #[test]
    fn mutated_golden_never_panics(
        edits in prop::collection::vec((0..CHROME.len(), any::<u8>()), 1..8),
        cuts in cuts(CHROME.len()),
    ) {
        let mut bytes = CHROME.to_vec();
        for (at, value) in edits {
            bytes[at] = value;
        }
        let whole = run(&bytes, &[], LIMITS);
        prop_assert_eq!(run(&bytes, &cuts, LIMITS), whole);
    }
}
