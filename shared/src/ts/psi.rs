//! Program specific information: the PAT and PMT sections, and the MPEG-2 CRC32.
//!
//! Each table is a single short section, so each fits one TS packet: a pointer field of 0,
//! the section, and 0xFF filler. Every section ends with a CRC32 (polynomial 0x04C11DB7,
//! initial value all ones, no bit reflection, no final XOR) over the section bytes.

use bytes::{BufMut, BytesMut};

use super::{PMT_PID, SYNC_BYTE, TS_PACKET_SIZE};

/// The only program of the stream.
const PROGRAM_NUMBER: u16 = 1;
/// Transport stream id: any value; 1 as ffmpeg writes.
const TRANSPORT_STREAM_ID: u16 = 1;
/// PCR PID that means "no PCR".
pub const NO_PCR_PID: u16 = 0x1fff;

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC32 as MPEG-2 sections use it; appending it to the data makes the CRC of the whole 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xffff_ffff, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)]
    })
}

/// The PAT section: program 1 → the PMT PID.
pub fn pat_section() -> Vec<u8> {
    let mut s = Vec::with_capacity(16);
    put_section_header(&mut s, 0x00, TRANSPORT_STREAM_ID, 5 + 4 + 4);
    s.put_u16(PROGRAM_NUMBER);
    s.put_u16(0xe000 | PMT_PID);
    finish(s)
}

/// The PMT section of program 1: PCR PID and `(stream_type, pid)` per elementary stream.
pub fn pmt_section(pcr_pid: u16, streams: &[(u8, u16)]) -> Vec<u8> {
    let mut s = Vec::with_capacity(21 + 5 * streams.len());
    put_section_header(&mut s, 0x02, PROGRAM_NUMBER, 9 + 5 * streams.len() + 4);
    s.put_u16(0xe000 | pcr_pid);
    s.put_u16(0xf000); // program_info_length 0
    for &(stream_type, pid) in streams {
        s.put_u8(stream_type);
        s.put_u16(0xe000 | pid);
        s.put_u16(0xf000); // ES_info_length 0
    }
    finish(s)
}

/// table_id, section length, table id extension, version 0 / current, section 0 of 0.
fn put_section_header(s: &mut Vec<u8>, table_id: u8, extension: u16, section_len: usize) {
    s.put_u8(table_id);
    // section_syntax_indicator, '0', reserved '11'; the length is ≤ 1021 for our tables.
    s.put_u16(0xb000 | (section_len as u16 & 0x03ff));
    s.put_u16(extension);
    s.put_u8(0xc1); // reserved '11', version 0, current_next_indicator
    s.put_u8(0); // section_number
    s.put_u8(0); // last_section_number
}

fn finish(mut s: Vec<u8>) -> Vec<u8> {
    let crc = crc32_mpeg2(&s);
    s.put_u32(crc);
    s
}

/// Appends one packet carrying `section` (≤ 183 bytes) on `pid`, advancing `cc`.
pub fn write_section_packet(out: &mut BytesMut, pid: u16, cc: &mut u8, section: &[u8]) {
    let start = out.len();
    out.put_u8(SYNC_BYTE);
    out.put_u16(0x4000 | (pid & 0x1fff)); // payload_unit_start_indicator
    out.put_u8(0x10 | *cc); // payload only
    *cc = (*cc + 1) & 0x0f;
    out.put_u8(0); // pointer_field: the section starts right away
    let room = TS_PACKET_SIZE - (out.len() - start);
    let n = section.len().min(room);
    out.put_slice(&section[..n]);
    out.put_bytes(0xff, room - n);
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn crc_check_value() {
        // The catalogued check value of CRC-32/MPEG-2.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_e6e7);
        assert_eq!(crc32_mpeg2(&pat_section()), 0);
    }

    #[test]
    fn pat_bytes_match_ffmpeg() {
        // ffmpeg's PAT for service 1 / PMT PID 0x1000 carries the same section.
        assert_eq!(
            pat_section(),
            [
                0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1,
                0x04, 0xb2
            ]
        );
    }

    #[test]
    fn pmt_lists_streams_and_checks_out() {
        let pmt = pmt_section(0x100, &[(0x1b, 0x100), (0x0f, 0x101)]);
        assert_eq!(pmt.len(), 3 + 9 + 10 + 4);
        assert_eq!(&pmt[..3], &[0x02, 0xb0, 0x17]);
        assert_eq!(&pmt[8..12], &[0xe1, 0x00, 0xf0, 0x00]);
        assert_eq!(
            &pmt[12..22],
            &[0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]
        );
        assert_eq!(crc32_mpeg2(&pmt), 0);
    }

    #[test]
    fn section_packet_is_padded() {
        let mut out = BytesMut::new();
        let mut cc = 15;
        write_section_packet(&mut out, 0, &mut cc, &pat_section());
        assert_eq!(out.len(), 188);
        assert_eq!(&out[..5], &[0x47, 0x40, 0x00, 0x1f, 0x00]);
        assert_eq!(cc, 0);
        assert!(out[5 + 16..].iter().all(|&b| b == 0xff));
    }
}
