//! The golden Chromium MediaRecorder recording (`data/chrome_h264_opus.webm`, made as
//! `data/chrome_h264_opus.txt` says): demuxed at many split sizes (and at the chunk sizes
//! Chromium really handed out) with identical events; frame counts, timestamps, sizes and
//! keyframe flags equal to ffprobe's; the H.264 track converted for FLV; cut and corrupted
//! copies never panic. Embedded with `include_bytes!`, so this also runs on wasm32.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::Bytes;
use onair_shared::codec::OpusHead;
use onair_shared::codec::annexb::{avcc_nals, nal_type};
use onair_shared::webm::{
    AvcConverter, Demuxer, Limits, TrackKind, WebmError, WebmEvent, opus_head,
};

const CHROME: &[u8] = include_bytes!("data/chrome_h264_opus.webm");

/// The sizes of the 26 `ondataavailable` blobs of the recording (make_webm.mjs output).
const CHROME_CHUNKS: &[usize] = &[
    1, 2945, 1015, 1511, 1354, 1666, 2410, 2161, 2450, 1635, 1747, 2251, 1916, 2556, 1784, 1871,
    2160, 2057, 2412, 1734, 1634, 2294, 1925, 2606, 1728, 1507,
];

// From `ffprobe -v error -show_packets -of compact=p=0
//   -show_entries packet=stream_index,pts,dts,size,flags chrome_h264_opus.webm`
// (ffprobe 5.1.9): (pts in ms, size in bytes) per packet. Stream 0 is track 1 (Opus, every
// packet a keyframe), stream 1 is track 2 (H.264, only the first packet has flag K).
const OPUS_PACKETS: [(i64, usize); 50] = [
    (0, 8),
    (60, 8),
    (120, 8),
    (180, 8),
    (240, 8),
    (300, 8),
    (360, 8),
    (420, 8),
    (480, 246),
    (540, 242),
    (600, 242),
    (660, 242),
    (720, 242),
    (780, 244),
    (840, 242),
    (900, 242),
    (960, 244),
    (1020, 242),
    (1080, 242),
    (1140, 242),
    (1200, 242),
    (1260, 214),
    (1320, 274),
    (1380, 242),
    (1440, 219),
    (1500, 259),
    (1560, 254),
    (1620, 242),
    (1680, 242),
    (1740, 242),
    (1800, 237),
    (1860, 239),
    (1920, 181),
    (1980, 257),
    (2040, 300),
    (2100, 250),
    (2160, 242),
    (2220, 242),
    (2280, 242),
    (2340, 228),
    (2400, 200),
    (2460, 247),
    (2520, 244),
    (2580, 301),
    (2640, 242),
    (2700, 242),
    (2760, 242),
    (2820, 242),
    (2880, 198),
    (2940, 210),
];
const H264_PACKETS: [(i64, usize); 60] = [
    (12, 1831),
    (54, 561),
    (104, 266),
    (154, 546),
    (207, 412),
    (254, 415),
    (304, 367),
    (353, 664),
    (404, 409),
    (453, 648),
    (504, 565),
    (554, 573),
    (604, 540),
    (653, 750),
    (704, 585),
    (754, 1113),
    (804, 518),
    (854, 640),
    (904, 489),
    (954, 784),
    (1004, 392),
    (1054, 715),
    (1104, 578),
    (1154, 641),
    (1204, 533),
    (1254, 770),
    (1304, 409),
    (1354, 762),
    (1404, 649),
    (1454, 673),
    (1503, 482),
    (1554, 837),
    (1604, 465),
    (1653, 791),
    (1704, 574),
    (1754, 774),
    (1804, 534),
    (1854, 753),
    (1904, 402),
    (1954, 871),
    (2003, 585),
    (2054, 607),
    (2104, 457),
    (2154, 805),
    (2204, 447),
    (2253, 759),
    (2304, 534),
    (2354, 628),
    (2404, 564),
    (2454, 754),
    (2503, 434),
    (2554, 745),
    (2604, 593),
    (2654, 686),
    (2704, 477),
    (2753, 908),
    (2804, 450),
    (2854, 794),
    (2904, 508),
    (2954, 769),
];

// The avcC `ffmpeg -i chrome_h264_opus.webm -c:v copy -f flv` writes, except that ffmpeg
// keeps a trailing zero byte on the PPS (`68ce3c8000`, the first byte of the next 4-byte
// start code); `annexb_nals` drops it, as a NAL unit never ends in a zero byte.
const AVCC: &[u8] = &[
    0x01, 0x42, 0xc0, 0x15, 0xff, 0xe1, 0x00, 0x11, 0x67, 0x42, 0xc0, 0x15, 0x8c, 0x8d, 0x40, 0xa0,
    0xf9, 0x35, 0x06, 0x06, 0x06, 0x07, 0x84, 0x42, 0x35, 0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
];

/// Feeds `bytes` in the given chunk sizes (cycled) and collects every event.
fn demux_chunks(bytes: &[u8], sizes: &[usize]) -> (Vec<WebmEvent>, Demuxer) {
    let mut d = Demuxer::new(Limits::default());
    let mut events = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
        rest = tail;
        d.push(piece);
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => panic!("demux error with chunks {sizes:?}: {e}"),
            }
        }
    }
    (events, d)
}

fn frames(events: &[WebmEvent], want: u64) -> Vec<(i64, bool, Bytes)> {
    events
        .iter()
        .filter_map(|e| match e {
            WebmEvent::Frame {
                track,
                timestamp_ms,
                keyframe,
                data,
            } if *track == want => Some((*timestamp_ms, *keyframe, data.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn same_events_at_every_split() {
    let (whole, d) = demux_chunks(CHROME, &[CHROME.len()]);
    assert_eq!(d.buffered_len(), 0);
    assert_eq!(d.position(), CHROME.len() as u64);
    assert_eq!(d.doc_type(), Some("matroska"));
    assert_eq!(d.timecode_scale(), 1_000_000);
    assert_eq!(whole.len(), 1 + 50 + 60);
    for split in [1, 2, 3, 7, 100, 4096] {
        assert_eq!(demux_chunks(CHROME, &[split]).0, whole, "split {split}");
    }
    assert_eq!(demux_chunks(CHROME, CHROME_CHUNKS).0, whole);
    assert_eq!(demux_chunks(CHROME, &[5, 1, 250, 13, 1, 2]).0, whole);
}

#[test]
fn tracks_match_ffprobe() {
    let (events, _) = demux_chunks(CHROME, &[CHROME.len()]);
    let WebmEvent::Tracks(tracks) = &events[0] else {
        panic!("first event is not Tracks: {:?}", events[0]);
    };
    assert_eq!(tracks.len(), 2);
    let (opus, avc) = (&tracks[0], &tracks[1]);
    assert_eq!((opus.number, opus.kind), (1, TrackKind::Audio));
    assert_eq!(opus.codec_id, "A_OPUS");
    let audio = opus.audio.unwrap();
    assert_eq!((audio.sampling_frequency, audio.channels), (48000.0, 1));
    // Chromium's OpusHead: version 1, mono, pre-skip 0, 48 kHz input.
    assert_eq!(opus_head(opus), Ok(OpusHead::new(1, 0, 48000)));

    assert_eq!((avc.number, avc.kind), (2, TrackKind::Video));
    assert_eq!(avc.codec_id, "V_MPEG4/ISO/AVC");
    // The finding that shapes the studio's fallback: no avcC in CodecPrivate.
    assert_eq!(avc.codec_private, None);
    let video = avc.video.unwrap();
    assert_eq!((video.pixel_width, video.pixel_height), (320, 240));
}

#[test]
fn frames_match_ffprobe() {
    let (events, _) = demux_chunks(CHROME, &[CHROME.len()]);
    let opus = frames(&events, 1);
    let got: Vec<(i64, usize)> = opus.iter().map(|(t, _, d)| (*t, d.len())).collect();
    assert_eq!(got, OPUS_PACKETS);
    assert!(opus.iter().all(|(_, key, _)| *key));

    let avc = frames(&events, 2);
    let got: Vec<(i64, usize)> = avc.iter().map(|(t, _, d)| (*t, d.len())).collect();
    assert_eq!(got, H264_PACKETS);
    let keys: Vec<bool> = avc.iter().map(|(_, key, _)| *key).collect();
    assert_eq!(keys.iter().filter(|k| **k).count(), 1);
    assert!(keys[0]);
}

#[test]
fn h264_is_annexb_and_converts_to_avcc() {
    let (events, _) = demux_chunks(CHROME, &[CHROME.len()]);
    let WebmEvent::Tracks(tracks) = &events[0] else {
        panic!("no Tracks");
    };
    let mut conv = AvcConverter::new(&tracks[1]).unwrap();
    assert!(conv.is_annexb());
    for (i, (_, key, data)) in frames(&events, 2).into_iter().enumerate() {
        // Every frame starts with a 4-byte start code.
        assert_eq!(&data[..4], &[0, 0, 0, 1], "frame {i}");
        let sample = conv.convert(&data).unwrap().unwrap();
        if i == 0 {
            let config = sample.new_config.unwrap();
            assert_eq!(&config.to_bytes().unwrap()[..], AVCC);
            assert_eq!(config.codec_string(), "avc1.42c015");
            let sps = config.parse_sps().unwrap();
            assert_eq!((sps.width, sps.height), (320, 240));
        } else {
            assert_eq!(sample.new_config, None, "frame {i}");
        }
        let types: Vec<u8> = avcc_nals(&sample.data, 4)
            .map(|n| nal_type(n.unwrap()).unwrap())
            .collect();
        // SPS, PPS and IDR in the keyframe; one non-IDR slice otherwise (no AUD, no SEI).
        let want: &[u8] = if key { &[7, 8, 5] } else { &[1] };
        assert_eq!(types, want, "frame {i}");
        // Only 4-byte start codes: the AVCC sample has the same size.
        assert_eq!(sample.data.len(), data.len());
    }
}

#[test]
fn cut_copies_are_need_more() {
    let (whole, _) = demux_chunks(CHROME, &[CHROME.len()]);
    for cut in (0..CHROME.len())
        .step_by(997)
        .chain([1, 3, 4, 40, CHROME.len() - 1])
    {
        let (events, d) = demux_chunks(&CHROME[..cut], &[4096]);
        assert!(events.len() <= whole.len());
        assert_eq!(events[..], whole[..events.len()], "cut at {cut}");
        assert!(d.buffered_len() <= cut);
    }
}

#[test]
fn corrupted_copies_never_panic() {
    let mut copy = CHROME.to_vec();
    for i in (0..copy.len()).step_by(61) {
        let original = copy[i];
        for value in [0x00, 0xff, 0x1f, 0x80, original ^ 0x40] {
            copy[i] = value;
            let mut d = Demuxer::new(Limits {
                max_block_size: 4096,
                max_header_size: 512,
            });
            d.push(&copy);
            let mut n = 0;
            loop {
                match d.next_event() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(d.next_event(), Err(e), "error is not sticky");
                        break;
                    }
                }
            }
            assert!(n <= 1 + 200);
        }
        copy[i] = original;
    }
}

#[test]
fn not_webm_is_refused_at_the_first_byte() {
    let mut d = Demuxer::new(Limits::default());
    d.push(b"F");
    assert_eq!(d.next_event(), Err(WebmError::NotEbml));
    let mut d = Demuxer::new(Limits::default());
    d.push(&CHROME[..3]);
    assert_eq!(d.next_event(), Ok(None));
}
