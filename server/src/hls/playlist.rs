//! Playlist text: the CMAF LL-HLS media playlist and the MPEG-TS one, from a [`Window`].

use crate::utc::civil_from_days;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::window::{PART_SEGMENTS, Window};

/// File name of init segment `id` (the first is plain `init.mp4`).
pub fn init_name(id: u32) -> String {
    if id == 0 {
        "init.mp4".to_string()
    } else {
        format!("init-{id}.mp4")
    }
}

pub fn segment_name(msn: u64) -> String {
    format!("seg{msn}.m4s")
}

pub fn part_name(msn: u64, index: usize) -> String {
    format!("part{msn}.{index}.m4s")
}

pub fn ts_segment_name(msn: u64) -> String {
    format!("seg{msn}.ts")
}

/// The CMAF playlist (`EXT-X-VERSION:9`, LL-HLS parts, preload hint, blocking reload).
pub fn cmaf(w: &Window) -> String {
    let mut out = String::with_capacity(2048);
    let listed: Vec<_> = w.listed().collect();
    let first_msn = listed
        .first()
        .map(|s| s.msn)
        .or(w.current.as_ref().map(|c| c.msn))
        .unwrap_or(w.next_msn);
    let first_dsn = listed
        .first()
        .map(|s| s.dsn)
        .or(w.current.as_ref().map(|c| c.dsn))
        .unwrap_or(0);
    // Parts of the last PART_SEGMENTS complete segments (and of the one in progress).
    let parts_from = listed.len().saturating_sub(PART_SEGMENTS);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{}\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n\
         #EXT-X-PART-INF:PART-TARGET={:.5}\n#EXT-X-MEDIA-SEQUENCE:{first_msn}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{first_dsn}\n",
        w.target_duration,
        // At least three part targets (rounded up so the text never says less).
        (w.part_target * 3.0 * 1000.0).ceil() / 1000.0,
        w.part_target,
    );
    let mut map = None;
    for (i, segment) in listed.iter().enumerate() {
        head(
            &mut out,
            i == 0,
            segment.discontinuity,
            segment.init,
            segment.pdt,
            &mut map,
        );
        if i >= parts_from {
            for (index, part) in segment.parts.iter().enumerate() {
                part_line(&mut out, segment.msn, index, part);
            }
        }
        let _ = writeln!(
            out,
            "#EXTINF:{:.5},\n{}",
            segment.duration,
            segment_name(segment.msn)
        );
    }
    if let Some(current) = w.current.as_ref().filter(|c| !c.parts.is_empty()) {
        head(
            &mut out,
            listed.is_empty(),
            current.discontinuity,
            current.init,
            current.pdt,
            &mut map,
        );
        for (index, part) in current.parts.iter().enumerate() {
            part_line(&mut out, current.msn, index, part);
        }
    }
    if w.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    } else {
        let (msn, index) = w.next_part();
        let _ = writeln!(
            out,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
            part_name(msn, index)
        );
    }
    out
}

/// Discontinuity, map and date lines before a segment's media.
fn head(
    out: &mut String,
    first: bool,
    discontinuity: bool,
    init: u32,
    pdt: SystemTime,
    map: &mut Option<u32>,
) {
    // The first listed segment's discontinuity is already counted in the sequence number.
    if discontinuity && !first {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if *map != Some(init) {
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", init_name(init));
        *map = Some(init);
    }
    let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", date_time(pdt));
}

fn part_line(out: &mut String, msn: u64, index: usize, part: &super::window::Part) {
    let _ = writeln!(
        out,
        "#EXT-X-PART:DURATION={:.5},URI=\"{}\"{}",
        part.duration,
        part_name(msn, index),
        if part.independent {
            ",INDEPENDENT=YES"
        } else {
            ""
        }
    );
}

/// The MPEG-TS playlist (version 3): complete segments only.
pub fn ts(w: &Window) -> String {
    let mut out = String::with_capacity(1024);
    let listed: Vec<_> = w.listed().filter(|s| s.ts.is_some()).collect();
    let first_msn = listed.first().map_or(w.next_msn, |s| s.msn);
    let first_dsn = listed.first().map_or(0, |s| s.dsn);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n\
         #EXT-X-MEDIA-SEQUENCE:{first_msn}\n#EXT-X-DISCONTINUITY-SEQUENCE:{first_dsn}\n",
        w.target_duration
    );
    for (i, segment) in listed.iter().enumerate() {
        if segment.discontinuity && i > 0 {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.5},\n{}",
            date_time(segment.pdt),
            segment.duration,
            ts_segment_name(segment.msn)
        );
    }
    if w.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// ISO 8601 / RFC 3339 UTC time with milliseconds, e.g. `2026-11-21T19:40:01.123Z`.
pub fn date_time(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::super::window::Part;
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_290_001_123);
        assert_eq!(date_time(t), "2026-11-21T19:40:01.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&date_time(leap)[..10], "2000-02-29");
    }

    fn part(independent: bool) -> Part {
        Part {
            data: Bytes::from_static(b"x"),
            duration: 0.32,
            independent,
        }
    }

    #[test]
    fn window_slides_and_lists_parts() {
        let mut w = Window::new(2.0, 0.333, 3);
        w.add_init(0, Bytes::from_static(b"init"));
        for msn in 0..8u64 {
            w.begin_segment(UNIX_EPOCH, msn == 5, 0);
            for i in 0..6 {
                w.add_part(part(i == 0));
            }
            w.end_segment(None);
        }
        w.begin_segment(UNIX_EPOCH, false, 0);
        w.add_part(part(true));
        let text = cmaf(&w);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:5\n"), "{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
        assert_eq!(text.matches("#EXTINF:1.92000,").count(), 3);
        // Parts of the last two complete segments and of the one in progress.
        assert_eq!(text.matches("#EXT-X-PART:").count(), 13, "{text}");
        assert!(text.contains("URI=\"part8.0.m4s\",INDEPENDENT=YES"));
        assert!(text.ends_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part8.1.m4s\"\n"));
        assert!(text.contains("PART-HOLD-BACK=1.000"), "{text}");
        // Memory: window + 2 segments, parts only on the newest two.
        assert_eq!(w.segments.len(), 5);
        assert!(w.segments[0].parts.is_empty());
        assert!(w.part(7, 5).is_some() && w.part(4, 0).is_none());
        assert!(w.has(8, Some(0)) && !w.has(8, Some(1)) && w.has(7, Some(9)));
        assert!(w.has(7, None) && !w.has(8, None));
        w.ended = true;
        assert!(cmaf(&w).ends_with("#EXT-X-ENDLIST\n"));
    }
}
