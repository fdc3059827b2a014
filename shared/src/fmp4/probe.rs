//! Reading an init segment back: the MIME type with RFC 6381 codecs (`video/mp4;
//! codecs="avc1.640028,mp4a.40.2"`) that MSE needs before it can take the segment.
//!
//! The player gets HLS init segments from the server without a stream description (the
//! stream list is an admin view), so it reads the codecs from the sample entries instead:
//! `avcC` (H.264), `esds` → AudioSpecificConfig (AAC), `dOps` (Opus). Anything it does not
//! understand gives `None`, never a panic: these are network bytes.

use bytes::Bytes;

use crate::codec::{AacConfig, AvcConfig};

/// Boxes that only hold other boxes, down to the sample description.
const CONTAINERS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"];

/// The MIME type of an fMP4 init segment, or `None` if it has no track this reader knows.
pub fn init_mime(init: &[u8]) -> Option<String> {
    let mut video = None;
    let mut audio = None;
    walk(init, &mut |kind, body| match kind {
        b"avcC" => {
            video = AvcConfig::parse(&Bytes::copy_from_slice(body))
                .ok()
                .map(|c| c.codec_string());
        }
        b"esds" => {
            audio = esds_asc(body)
                .and_then(|asc| AacConfig::parse(asc).ok())
                .map(|c| c.codec_string());
        }
        b"dOps" => audio = Some("opus".to_string()),
        _ => {}
    });
    let kind = if video.is_some() { "video" } else { "audio" };
    let codecs: Vec<String> = [video, audio].into_iter().flatten().collect();
    (!codecs.is_empty()).then(|| format!("{kind}/mp4; codecs=\"{}\"", codecs.join(",")))
}

/// Calls `visit` with every box's type and body, descending into containers and into the
/// sample entries (whose child boxes follow a fixed-size header).
fn walk(mut data: &[u8], visit: &mut dyn FnMut(&[u8; 4], &[u8])) {
    while data.len() >= 8 {
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let kind: [u8; 4] = [data[4], data[5], data[6], data[7]];
        if size < 8 || size > data.len() {
            return;
        }
        let body = &data[8..size];
        visit(&kind, body);
        let children = match &kind {
            // A full box: version/flags and an entry count come before the entries.
            b"stsd" => body.get(8..),
            k if CONTAINERS.contains(&k) => Some(body),
            // VisualSampleEntry: 78 bytes of fields before its child boxes.
            b"avc1" => body.get(78..),
            // AudioSampleEntry (version 0): 28 bytes of fields.
            b"mp4a" | b"Opus" => body.get(28..),
            _ => None,
        };
        if let Some(children) = children {
            walk(children, visit);
        }
        data = &data[size..];
    }
}

/// The AudioSpecificConfig inside an `esds` body (ES_Descriptor → DecoderConfigDescriptor →
/// DecoderSpecificInfo).
fn esds_asc(body: &[u8]) -> Option<&[u8]> {
    let (tag, es) = descriptor(body.get(4..)?)?;
    if tag != 0x03 {
        return None;
    }
    let flags = *es.get(2)?;
    let mut skip = 3;
    if flags & 0x80 != 0 {
        skip += 2; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        skip += 1 + usize::from(*es.get(skip)?); // URL
    }
    if flags & 0x20 != 0 {
        skip += 2; // OCR_ES_Id
    }
    let (tag, config) = descriptor(es.get(skip..)?)?;
    if tag != 0x04 {
        return None;
    }
    let (tag, asc) = descriptor(config.get(13..)?)?;
    (tag == 0x05).then_some(asc)
}

/// One descriptor: its tag and body (the length in the expandable form of ISO 14496-1).
fn descriptor(data: &[u8]) -> Option<(u8, &[u8])> {
    let tag = *data.first()?;
    let mut len = 0usize;
    let mut pos = 1;
    loop {
        let b = *data.get(pos)?;
        pos += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 || pos > 4 {
            break;
        }
    }
    Some((tag, data.get(pos..pos.checked_add(len)?)?))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::fmp4::{Track, TrackConfig, write_init};

    /// The avcC ffmpeg muxed into FLV for a 1920x1080 High@4.0 SPS.
    const AVCC: &str = "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c\
                        60c65801000668ebe3cb22c0fdf8f800";

    fn hex(s: &str) -> Bytes {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    fn init(tracks: &[Track]) -> BytesMut {
        let mut out = BytesMut::new();
        write_init(tracks, &mut out).unwrap();
        out
    }

    fn avc() -> Track {
        Track {
            id: 1,
            timescale: 90_000,
            config: TrackConfig::Avc {
                avcc: hex(AVCC),
                width: 1920,
                height: 1080,
            },
        }
    }

    fn aac() -> Track {
        Track {
            id: 2,
            timescale: 44_100,
            config: TrackConfig::Aac {
                asc: Bytes::from_static(&[0x12, 0x10]),
                sample_rate: 44_100,
                channels: 2,
            },
        }
    }

    fn opus() -> Track {
        Track {
            id: 2,
            timescale: 48_000,
            config: TrackConfig::Opus {
                channels: 2,
                pre_skip: 312,
                input_sample_rate: 48_000,
                output_gain: 0,
            },
        }
    }

    #[test]
    fn reads_the_codecs_the_writer_wrote() {
        assert_eq!(
            init_mime(&init(&[avc(), aac()])).as_deref(),
            Some("video/mp4; codecs=\"avc1.640028,mp4a.40.2\"")
        );
        assert_eq!(
            init_mime(&init(&[avc(), opus()])).as_deref(),
            Some("video/mp4; codecs=\"avc1.640028,opus\"")
        );
        assert_eq!(
            init_mime(&init(&[aac()])).as_deref(),
            Some("audio/mp4; codecs=\"mp4a.40.2\"")
        );
    }

    #[test]
    fn garbage_and_truncation_give_none() {
        assert_eq!(init_mime(b""), None);
        assert_eq!(init_mime(&[0xff; 64]), None);
        let whole = init(&[avc(), aac()]);
        for cut in 0..whole.len() {
            // Never panics; a cut init may still name the tracks before the cut.
            let _ = init_mime(&whole[..cut]);
        }
    }
}
