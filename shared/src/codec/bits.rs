//! Bit-level reader and writer for codec headers (H.264 RBSP, AAC AudioSpecificConfig).
//!
//! H.264 parameter sets are exp-Golomb coded and may contain emulation-prevention bytes
//! (`00 00 03`), which must be removed before bit parsing: [`rbsp_from_nal`] does that,
//! [`BitReader`] then reads MSB-first. Every read is bounds-checked and returns
//! [`CodecError::Truncated`] instead of panicking, since the bytes come from the network.

use super::CodecError;

/// Returns the RBSP of a NAL unit: the bytes with every emulation-prevention `03` that
/// follows two zero bytes removed (H.264 §7.4.1).
pub fn rbsp_from_nal(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            // Emulation prevention: drop it and restart the zero run.
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// MSB-first bit reader over a byte slice.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits not read yet.
    pub fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Reads one bit.
    pub fn read_bit(&mut self) -> Result<bool, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(CodecError::Truncated("bit string"))?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads a flag (`u(1)`).
    pub fn read_flag(&mut self) -> Result<bool, CodecError> {
        self.read_bit()
    }

    /// Reads `n` bits (0..=32) as an unsigned big-endian number.
    pub fn read_bits(&mut self, n: u32) -> Result<u32, CodecError> {
        if n > 32 {
            return Err(CodecError::Invalid("bit field wider than 32 bits"));
        }
        if self.bits_left() < n as usize {
            return Err(CodecError::Truncated("bit string"));
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.read_bit()?);
        }
        // n <= 32, so the value fits.
        Ok(v as u32)
    }

    /// Reads 8 bits.
    pub fn read_u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.read_bits(8)? as u8)
    }

    /// Skips `n` bits.
    pub fn skip_bits(&mut self, n: usize) -> Result<(), CodecError> {
        if self.bits_left() < n {
            return Err(CodecError::Truncated("bit string"));
        }
        self.pos += n;
        Ok(())
    }

    /// Reads an unsigned exp-Golomb code (`ue(v)`), up to `2^32 - 2`.
    pub fn read_ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0u32;
        while !self.read_bit()? {
            zeros += 1;
            // 32 leading zeros would encode a value beyond u32; no H.264 syntax element needs it.
            if zeros > 31 {
                return Err(CodecError::Invalid("exp-Golomb code longer than 32 bits"));
            }
        }
        let suffix = u64::from(self.read_bits(zeros)?);
        let v = (1u64 << zeros) - 1 + suffix;
        u32::try_from(v).map_err(|_| CodecError::Invalid("exp-Golomb value overflows u32"))
    }

    /// Reads a signed exp-Golomb code (`se(v)`): 0, 1, -1, 2, -2, …
    pub fn read_se(&mut self) -> Result<i32, CodecError> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |v| <= 2^31, and only +2^31 does not fit.
        i32::try_from(v).map_err(|_| CodecError::Invalid("exp-Golomb value overflows i32"))
    }

    /// The unread bits as bytes, left-aligned (the last byte zero-padded), with their count.
    pub fn remaining(&mut self) -> (Vec<u8>, usize) {
        let n = self.bits_left();
        let mut w = BitWriter::new();
        let mut left = n;
        while left > 0 {
            let take = left.min(32) as u32;
            // Cannot fail: `take` bits are known to be available.
            let v = self.read_bits(take).unwrap_or(0);
            w.write_bits(v, take);
            left -= take as usize;
        }
        (w.finish(), n)
    }
}

/// MSB-first bit writer; [`BitWriter::finish`] pads the last byte with zero bits.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    out: Vec<u8>,
    /// Bits used in the last byte of `out` (0 means the last byte is full or none exists).
    used: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one bit.
    pub fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.out.push(0);
        }
        if bit && let Some(last) = self.out.last_mut() {
            *last |= 1 << (7 - self.used);
        }
        self.used = (self.used + 1) % 8;
    }

    /// Appends the low `n` bits (0..=32) of `value`, MSB first.
    pub fn write_bits(&mut self, value: u32, n: u32) {
        for i in (0..n.min(32)).rev() {
            self.write_bit((value >> i) & 1 == 1);
        }
    }

    /// Appends an unsigned exp-Golomb code.
    pub fn write_ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        for _ in 1..len {
            self.write_bit(false);
        }
        for i in (0..len).rev() {
            self.write_bit((v >> i) & 1 == 1);
        }
    }

    /// Appends a signed exp-Golomb code.
    pub fn write_se(&mut self, value: i32) {
        let v = i64::from(value);
        let k = if v > 0 { 2 * v - 1 } else { -2 * v };
        self.write_ue(u32::try_from(k).unwrap_or(u32::MAX));
    }

    /// Appends `bits` bits taken MSB-first from `data`.
    pub fn write_slice_bits(&mut self, data: &[u8], bits: usize) {
        for i in 0..bits {
            let bit = data
                .get(i / 8)
                .is_some_and(|b| (b >> (7 - (i % 8))) & 1 == 1);
            self.write_bit(bit);
        }
    }

    /// The written bytes, the last one zero-padded.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn removes_emulation_prevention() {
        assert_eq!(
            rbsp_from_nal(&[0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3]),
            vec![0x67, 0, 0, 1, 0, 0, 0, 0]
        );
        // A 03 not preceded by two zeros stays.
        assert_eq!(rbsp_from_nal(&[0, 3, 0, 0, 0, 3]), vec![0, 3, 0, 0, 0]);
    }

    #[test]
    fn reads_bits_and_exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 | 1 -> ue 0, 1, 2, 3, 4 then a flag.
        let mut w = BitWriter::new();
        for v in [0, 1, 2, 3, 4] {
            w.write_ue(v);
        }
        w.write_bit(true);
        let data = w.finish();
        assert_eq!(data, vec![0b1010_0110, 0b0100_0010, 0b1100_0000]);
        let mut r = BitReader::new(&data);
        for v in [0, 1, 2, 3, 4] {
            assert_eq!(r.read_ue().ok(), Some(v));
        }
        assert_eq!(r.read_flag().ok(), Some(true));
        assert_eq!(r.bits_left(), 6);
    }

    #[test]
    fn signed_exp_golomb_round_trips() {
        let values = [0, 1, -1, 2, -2, 100, -100, i32::MAX, -i32::MAX];
        let mut w = BitWriter::new();
        for v in values {
            w.write_se(v);
        }
        let data = w.finish();
        let mut r = BitReader::new(&data);
        for v in values {
            assert_eq!(r.read_se().ok(), Some(v));
        }
    }

    #[test]
    fn errors_instead_of_panicking() {
        let mut r = BitReader::new(&[0xff]);
        assert!(r.read_bits(9).is_err());
        assert!(r.read_bits(33).is_err());
        assert_eq!(r.read_bits(8).ok(), Some(0xff));
        assert!(r.read_bit().is_err());
        // All-zero bits: an exp-Golomb prefix that never ends.
        assert!(BitReader::new(&[0; 8]).read_ue().is_err());
        assert!(BitReader::new(&[0; 2]).read_ue().is_err());
        assert!(BitReader::new(&[]).skip_bits(1).is_err());
    }

    #[test]
    fn remaining_bits_are_left_aligned() {
        let data = [0b1010_1100, 0b0101_0000];
        let mut r = BitReader::new(&data);
        r.skip_bits(3).ok();
        let (rest, n) = r.remaining();
        assert_eq!(n, 13);
        assert_eq!(rest, vec![0b0110_0010, 0b1000_0000]);
        let mut w = BitWriter::new();
        w.write_bits(0b101, 3);
        w.write_slice_bits(&rest, n);
        assert_eq!(w.finish(), data.to_vec());
    }
}
