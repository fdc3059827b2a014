//! The capture wall clock carried in the stream, for glass-to-glass latency.
//!
//! Reading a stamp is [`crate::media::Script`]'s job, done once per tag at ingest.
//!
//! A studio sends, right before a video frame and with that frame's FLV timestamp, a script
//! tag `onFI` (Adobe's "frame info": `sd` date and `st` time strings) to which onair adds
//! `wallclock`, the capture time in ms since the Unix epoch as a number, because the
//! strings carry neither a time zone nor sub-millisecond precision reliably.

use bytes::BytesMut;

use crate::amf0::{self, Amf0Value};

pub use crate::media::script::ON_FI;

/// A frame's media time and the wall-clock time it was captured at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockStamp {
    /// Media time of the stamped frame in the player's timeline, seconds.
    pub media_time: f64,
    /// Capture time, ms since the Unix epoch.
    pub wallclock_ms: f64,
}

/// Appends an `onFI` script tag body for a frame captured at `wallclock_ms`.
pub fn write_on_fi(wallclock_ms: f64, out: &mut BytesMut) {
    let (date, time) = utc_strings(wallclock_ms);
    amf0::encode_all(
        &[
            Amf0Value::String(ON_FI.into()),
            Amf0Value::Object(vec![
                ("sd".into(), Amf0Value::String(date)),
                ("st".into(), Amf0Value::String(time)),
                ("wallclock".into(), Amf0Value::Number(wallclock_ms)),
            ]),
        ],
        out,
    );
}

/// `YYYY-MM-DD` and `HH:MM:SS.mmm` (UTC) of a Unix time in ms.
fn utc_strings(ms: f64) -> (String, String) {
    let ms = if ms.is_finite() {
        ms.max(0.0) as i64
    } else {
        0
    };
    let (days, of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000,
    );
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{h:02}:{m:02}:{s:02}.{milli:03}"),
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`). The server uses it for HLS dates and file names.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use bytes::Bytes;

    /// What ingest reads from a stamp ([`crate::media::Script`]).
    fn parse_on_fi(body: &Bytes) -> Option<f64> {
        crate::media::Script::parse(body).ok()?.wallclock_ms()
    }

    #[test]
    fn round_trip_and_strings() {
        // 2026-11-21T21:08:36.123Z
        let ms = 1_795_295_316_123.0;
        let mut out = BytesMut::new();
        write_on_fi(ms, &mut out);
        let body = out.freeze();
        assert_eq!(parse_on_fi(&body), Some(ms));
        let values = amf0::decode_all(&body).unwrap();
        assert_eq!(
            values[1].get("sd").and_then(Amf0Value::as_str),
            Some("2026-11-21")
        );
        assert_eq!(
            values[1].get("st").and_then(Amf0Value::as_str),
            Some("21:08:36.123")
        );
        assert_eq!(utc_strings(0.0).0, "1970-01-01");
        assert_eq!(utc_strings(951_782_400_000.0).0, "2000-02-29");
    }

    #[test]
    fn other_tags_are_not_clocks() {
        let mut out = BytesMut::new();
        amf0::encode_all(
            &[
                Amf0Value::String("onMetaData".into()),
                Amf0Value::EcmaArray(vec![("wallclock".into(), Amf0Value::Number(5.0))]),
            ],
            &mut out,
        );
        assert_eq!(parse_on_fi(&out.freeze()), None);
        assert_eq!(parse_on_fi(&Bytes::from_static(&[0x02, 0x00])), None);
        assert_eq!(parse_on_fi(&Bytes::new()), None);
        let mut nan = BytesMut::new();
        amf0::encode_all(
            &[
                Amf0Value::String(ON_FI.into()),
                Amf0Value::Object(vec![("wallclock".into(), Amf0Value::Number(f64::NAN))]),
            ],
            &mut nan,
        );
        assert_eq!(parse_on_fi(&nan.freeze()), None);
    }
}
