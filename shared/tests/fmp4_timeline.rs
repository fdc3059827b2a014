#![cfg(not(target_arch = "wasm32"))]
//! Property tests of `TrackTimeline` (native only: proptest): whatever the timestamps and
//! wherever fragments are cut, decode times only increase, and for a sane source the
//! presentation times are exactly the source's and no gap opens between fragments.

use bytes::Bytes;
use onair_shared::fmp4::{FragmentSamples, TrackTimeline};
use proptest::prelude::*;

/// `(dts, pts)` in ticks of every sample, as a player rebuilds them from the fragments.
fn times(fragments: &[FragmentSamples]) -> Vec<(i128, i128)> {
    let mut out = Vec::new();
    for f in fragments {
        let mut dts = i128::from(f.base_decode_time);
        for s in &f.samples {
            assert!(s.duration >= 1);
            out.push((dts, dts + i128::from(s.cts_offset)));
            dts += i128::from(s.duration);
        }
    }
    out
}

/// Feeds `(dts_ms, cts_ms, cut)` samples; `cut` 1 takes completed samples, 2 all.
fn run(timescale: u32, default: u32, input: &[(u64, i32, u8)]) -> Vec<FragmentSamples> {
    let mut tl = TrackTimeline::new(timescale, default);
    let mut fragments = Vec::new();
    for &(dts, cts, cut) in input {
        tl.push(dts, cts, cut == 1, Bytes::from_static(b"s"))
            .unwrap();
        match cut {
            1 => fragments.extend(tl.take_completed()),
            2 => fragments.extend(tl.take_fragment()),
            _ => {}
        }
    }
    fragments.extend(tl.take_fragment());
    fragments
}

proptest! {
    #[test]
    fn any_timestamps_give_increasing_decode_times(
        input in prop::collection::vec((any::<u32>(), -1000i32..1000, 0u8..3), 1..100),
        timescale in prop::sample::select(vec![1000u32, 44_100, 48_000, 90_000]),
    ) {
        let input: Vec<(u64, i32, u8)> =
            input.into_iter().map(|(d, c, k)| (u64::from(d), c, k)).collect();
        let all = times(&run(timescale, 1000, &input));
        prop_assert_eq!(all.len(), input.len());
        prop_assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn a_constant_rate_source_is_gapless(
        step in 1u64..200,
        cuts in prop::collection::vec(0u8..3, 1..100),
        timescale in prop::sample::select(vec![1000u32, 44_100, 48_000, 90_000]),
    ) {
        let input: Vec<(u64, i32, u8)> =
            cuts.iter().enumerate().map(|(i, &cut)| (i as u64 * step, 0, cut)).collect();
        let fragments = run(timescale, (step * u64::from(timescale) / 1000) as u32, &input);
        for w in fragments.windows(2) {
            prop_assert_eq!(w[0].base_decode_time + w[0].duration(), w[1].base_decode_time);
        }
    }

    #[test]
    fn a_steady_source_keeps_exact_pts_and_no_gaps(
        steps in prop::collection::vec((1u64..100, 0i32..300, 0u8..6), 1..200),
        start in 0u64..100_000,
        timescale in prop::sample::select(vec![1000u32, 44_100, 48_000, 90_000]),
    ) {
        let mut dts = start;
        let input: Vec<(u64, i32, u8)> = steps
            .iter()
            .map(|&(step, cts, cut)| {
                dts += step;
                (dts, cts, cut)
            })
            .collect();
        // A default of 50 ms: within the 100 ms snapping window of any step used here.
        let fragments = run(timescale, timescale / 20, &input);
        let ticks = |ms: i128| (ms * i128::from(timescale)).div_euclid(1000);
        for (&(got_dts, pts), &(dts, cts, _)) in times(&fragments).iter().zip(&input) {
            prop_assert_eq!(pts, ticks(i128::from(dts) + i128::from(cts)));
            // Decode times never wander from the source clock by more than the window.
            prop_assert!((got_dts - ticks(i128::from(dts))).abs() <= ticks(100));
        }
        // Gapless, or overlapping the previous fragment's estimated last duration when
        // that overshot (steps of 1..100 ms never leave a real gap).
        for w in fragments.windows(2) {
            prop_assert!(w[1].base_decode_time <= w[0].base_decode_time + w[0].duration());
        }
    }
}
