//! PES headers and their packetization into 188-byte TS packets.
//!
//! A PES (packetized elementary stream) packet holds one access unit (a video frame or an
//! ADTS frame) behind a header with 33-bit 90 kHz PTS/DTS. It is cut into TS packets: the
//! first has `payload_unit_start_indicator` set and may carry an adaptation field with the
//! PCR and the random access indicator; the last is filled to 188 bytes by adaptation field
//! stuffing, because TS payloads have no length of their own.

use bytes::{BufMut, BytesMut};

use super::{SYNC_BYTE, TS_PACKET_SIZE};

/// PES stream id of the first MPEG video stream.
pub const STREAM_ID_VIDEO: u8 = 0xe0;
/// PES stream id of the first MPEG audio stream.
pub const STREAM_ID_AUDIO: u8 = 0xc0;
/// PTS/DTS and PCR base are 33-bit counters of a 90 kHz clock.
pub const TIMESTAMP_MASK: u64 = (1 << 33) - 1;

const TS_HEADER_LEN: usize = 4;
const TS_PAYLOAD_LEN: usize = TS_PACKET_SIZE - TS_HEADER_LEN;
const AF_RANDOM_ACCESS: u8 = 0x40;
const AF_PCR: u8 = 0x10;

/// Appends a PES header for a `payload_len`-byte payload. Times are 90 kHz ticks (wrapped
/// to 33 bits here); `dts` is written only when it differs from `pts`.
///
/// `PES_packet_length` is 0 ("unbounded", allowed for video only) when the packet is
/// longer than 65535 bytes or `unbounded` is set, as ffmpeg does for all video.
pub fn put_pes_header(
    out: &mut impl BufMut,
    stream_id: u8,
    pts: u64,
    dts: Option<u64>,
    payload_len: usize,
    unbounded: bool,
) {
    let dts = dts.filter(|&d| d & TIMESTAMP_MASK != pts & TIMESTAMP_MASK);
    let header_data_len: u8 = if dts.is_some() { 10 } else { 5 };
    out.put_slice(&[0, 0, 1, stream_id]);
    let len = 3 + usize::from(header_data_len) + payload_len;
    out.put_u16(match u16::try_from(len) {
        Ok(len) if !unbounded => len,
        _ => 0,
    });
    out.put_u8(0x84); // marker '10', data_alignment_indicator: an access unit starts here
    out.put_u8(if dts.is_some() { 0xc0 } else { 0x80 });
    out.put_u8(header_data_len);
    match dts {
        Some(dts) => {
            put_timestamp(out, 0b0011, pts);
            put_timestamp(out, 0b0001, dts);
        }
        None => put_timestamp(out, 0b0010, pts),
    }
}

/// The 5-byte PTS/DTS field: 4-bit prefix, then 3+15+15 bits each followed by a marker.
fn put_timestamp(out: &mut impl BufMut, prefix: u8, ts: u64) {
    let ts = ts & TIMESTAMP_MASK;
    out.put_u8((prefix << 4) | (((ts >> 29) as u8) & 0x0e) | 1);
    out.put_u16((((ts >> 14) as u16) & 0xfffe) | 1);
    out.put_u16((((ts << 1) as u16) & 0xfffe) | 1);
}

/// The 6-byte PCR: 33-bit base, 6 reserved bits, 9-bit extension (0: ms precision).
fn put_pcr(out: &mut BytesMut, base: u64) {
    let base = base & TIMESTAMP_MASK;
    out.put_u32((base >> 1) as u32);
    out.put_u8((((base & 1) as u8) << 7) | 0x7e);
    out.put_u8(0);
}

/// What goes into the adaptation field of a PES's first packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstPacket {
    /// PCR base (90 kHz) to send, if due.
    pub pcr: Option<u64>,
    /// Whether a decoder can start here (keyframe with parameter sets).
    pub random_access: bool,
}

/// Appends `pes` cut into TS packets on `pid`, advancing the continuity counter `cc`.
pub fn write_pes_packets(
    out: &mut BytesMut,
    pid: u16,
    cc: &mut u8,
    first: FirstPacket,
    pes: &[u8],
) {
    out.reserve((pes.len() / TS_PAYLOAD_LEN + 2) * TS_PACKET_SIZE);
    let mut rest = pes;
    let mut is_first = true;
    while is_first || !rest.is_empty() {
        let (pcr, random_access) = if is_first {
            (first.pcr, first.random_access)
        } else {
            (None, false)
        };
        let flagged = pcr.is_some() || random_access;
        let fields_len = if flagged {
            2 + if pcr.is_some() { 6 } else { 0 }
        } else {
            0
        };
        let room = TS_PAYLOAD_LEN - fields_len;
        let n = rest.len().min(room);
        // A short final payload is padded with adaptation field stuffing.
        let af_len = fields_len + (room - n);

        out.put_u8(SYNC_BYTE);
        let pusi = if is_first { 0x4000 } else { 0 };
        out.put_u16(pusi | (pid & 0x1fff));
        let control = if af_len > 0 { 0x30 } else { 0x10 };
        out.put_u8(control | *cc);
        *cc = (*cc + 1) & 0x0f;
        if af_len > 0 {
            // af_len ≤ 184: the length byte counts what follows it.
            out.put_u8((af_len - 1) as u8);
            if af_len > 1 {
                let mut flags = 0;
                if random_access {
                    flags |= AF_RANDOM_ACCESS;
                }
                if pcr.is_some() {
                    flags |= AF_PCR;
                }
                out.put_u8(flags);
                if let Some(pcr) = pcr {
                    put_pcr(out, pcr);
                }
                out.put_bytes(0xff, af_len - fields_len.max(2));
            }
        }
        out.put_slice(&rest[..n]);
        rest = &rest[n..];
        is_first = false;
    }
}

/// Appends a packet with only an adaptation field carrying a PCR (no payload, so the
/// continuity counter does not advance): keeps the PCR within 100 ms when video is sparse.
pub fn write_pcr_packet(out: &mut BytesMut, pid: u16, cc: u8, pcr: u64) {
    out.put_u8(SYNC_BYTE);
    out.put_u16(pid & 0x1fff);
    out.put_u8(0x20 | cc); // adaptation field only
    out.put_u8((TS_PAYLOAD_LEN - 1) as u8);
    out.put_u8(AF_PCR);
    put_pcr(out, pcr);
    out.put_bytes(0xff, TS_PAYLOAD_LEN - 8);
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn pts_only_header() {
        let mut out = Vec::new();
        put_pes_header(&mut out, STREAM_ID_AUDIO, 90_000, None, 100, false);
        // 90000 = 0x15f90: the three pieces are 0, 0x0002 and 0x5f90.
        assert_eq!(
            out,
            [
                0, 0, 1, 0xc0, 0, 108, 0x84, 0x80, 5, 0x21, 0x00, 0x05, 0xbf, 0x21
            ]
        );
    }

    #[test]
    fn pts_and_dts_header_wraps_33_bits() {
        let mut out = Vec::new();
        let dts = TIMESTAMP_MASK; // all ones
        put_pes_header(
            &mut out,
            STREAM_ID_VIDEO,
            dts + 3001,
            Some(dts),
            70_000,
            true,
        );
        assert_eq!(&out[4..9], &[0, 0, 0x84, 0xc0, 10]);
        assert_eq!(&out[9..14], &[0x31, 0x00, 0x01, 0x17, 0x71]); // 3000 after the wrap
        assert_eq!(&out[14..19], &[0x1f, 0xff, 0xff, 0xff, 0xff]);
        let mut same = Vec::new();
        put_pes_header(&mut same, STREAM_ID_VIDEO, 5, Some(5), 10, true);
        assert_eq!(same.len(), 14);
        assert_eq!(&same[4..6], &[0, 0]);
    }

    #[test]
    fn small_pes_is_one_stuffed_packet_with_pcr() {
        let mut out = BytesMut::new();
        let mut cc = 3;
        let first = FirstPacket {
            pcr: Some(0x1_2345_6789),
            random_access: true,
        };
        write_pes_packets(&mut out, 0x100, &mut cc, first, &[0xaa; 20]);
        assert_eq!(out.len(), 188);
        assert_eq!(&out[..4], &[0x47, 0x41, 0x00, 0x33]);
        assert_eq!(out[4], 183 - 20); // adaptation_field_length
        assert_eq!(out[5], 0x50);
        // PCR base 0x1_2345_6789 >> 1 = 0x91a2b3c4, low bit 1.
        assert_eq!(&out[6..12], &[0x91, 0xa2, 0xb3, 0xc4, 0xfe, 0x00]);
        assert!(out[12..168].iter().all(|&b| b == 0xff));
        assert!(out[168..].iter().all(|&b| b == 0xaa));
        assert_eq!(cc, 4);
    }

    #[test]
    fn one_byte_of_stuffing_is_an_empty_adaptation_field() {
        let mut out = BytesMut::new();
        let mut cc = 15;
        write_pes_packets(
            &mut out,
            0x101,
            &mut cc,
            FirstPacket::default(),
            &[1; 184 + 183],
        );
        assert_eq!(out.len(), 376);
        assert_eq!(&out[..4], &[0x47, 0x41, 0x01, 0x1f]);
        assert_eq!(&out[188..193], &[0x47, 0x01, 0x01, 0x30, 0x00]);
        assert!(out[193..].iter().all(|&b| b == 1));
        assert_eq!(cc, 1);
    }

    #[test]
    fn two_bytes_of_stuffing_have_flags_and_no_fill() {
        let mut out = BytesMut::new();
        let mut cc = 0;
        write_pes_packets(&mut out, 0x101, &mut cc, FirstPacket::default(), &[1; 182]);
        assert_eq!(&out[3..6], &[0x30, 0x01, 0x00]);
        assert!(out[6..].iter().all(|&b| b == 1));
    }

    #[test]
    fn pcr_packet_has_no_payload() {
        let mut out = BytesMut::new();
        write_pcr_packet(&mut out, 0x100, 9, 90_000);
        assert_eq!(out.len(), 188);
        assert_eq!(&out[..6], &[0x47, 0x01, 0x00, 0x29, 183, 0x10]);
    }
}
