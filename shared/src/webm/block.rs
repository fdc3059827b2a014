//! SimpleBlock / Block payloads: `track (vint) | relative timestamp (i16) | flags |
//! [lacing] | frames`, and the BlockGroup around a Block.
//!
//! Chromium's MediaRecorder writes unlaced SimpleBlocks only, but the three Matroska lacing
//! modes (Xiph, EBML, fixed-size) are cheap to split, so they are supported rather than
//! rejected: a file from another muxer (ffmpeg/mkvmerge lace audio) then demuxes too. Frames
//! are zero-copy slices of the block's `Bytes`.

use bytes::Bytes;

use super::WebmError;
use super::ebml::{self, ID_BLOCK, ID_REFERENCE_BLOCK, Vint, children};

/// SimpleBlock flag: the block is a keyframe.
const FLAG_KEYFRAME: u8 = 0x80;
/// Lacing bits of the flags byte.
const LACING_MASK: u8 = 0x06;
const LACING_XIPH: u8 = 0x02;
const LACING_FIXED: u8 = 0x04;
const LACING_EBML: u8 = 0x06;

/// A block split into its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The track number.
    pub track: u64,
    /// Timestamp relative to the Cluster's, in TimestampScale ticks.
    pub relative_timecode: i16,
    /// Keyframe: the SimpleBlock flag, or for a BlockGroup, no ReferenceBlock.
    pub keyframe: bool,
    /// The frames (one unless laced).
    pub frames: Vec<Bytes>,
}

/// Parses a SimpleBlock's data.
pub fn parse_simple_block(data: &Bytes) -> Result<Block, WebmError> {
    let (mut block, flags) = parse_block(data)?;
    block.keyframe = flags & FLAG_KEYFRAME != 0;
    Ok(block)
}

/// Parses a BlockGroup's data: its Block, and whether a ReferenceBlock makes it a
/// non-keyframe. Other children (BlockDuration, BlockAdditions…) are ignored.
pub fn parse_block_group(data: &Bytes, offset: u64) -> Result<Block, WebmError> {
    let mut block = None;
    let mut referenced = false;
    for child in children(data, offset) {
        let (id, body) = child?;
        match id {
            ID_BLOCK if block.is_none() => block = Some(data.slice_ref(body)),
            ID_REFERENCE_BLOCK => referenced = true,
            _ => {}
        }
    }
    let data = block.ok_or(WebmError::BadBlock("BlockGroup without a Block"))?;
    let (mut block, _) = parse_block(&data)?;
    block.keyframe = !referenced;
    Ok(block)
}

/// Parses the common Block layout; returns the block (keyframe unset) and the flags byte.
fn parse_block(data: &Bytes) -> Result<(Block, u8), WebmError> {
    let (track, len) = match ebml::read_vint(data) {
        Vint::Value(v, _, len) => (v, len),
        Vint::Incomplete | Vint::Invalid => return Err(WebmError::BadBlock("track number")),
    };
    let [t0, t1, flags] = *data
        .get(len..len + 3)
        .ok_or(WebmError::BadBlock("truncated block header"))?
    else {
        return Err(WebmError::BadBlock("truncated block header"));
    };
    let relative_timecode = i16::from_be_bytes([t0, t1]);
    let start = len + 3;
    let frames = match flags & LACING_MASK {
        0 => vec![data.slice(start..)],
        lacing => split_laced(data, start, lacing)?,
    };
    let block = Block {
        track,
        relative_timecode,
        keyframe: false,
        frames,
    };
    Ok((block, flags))
}

/// Splits the laced frames that start at `data[start..]` (the frame count byte).
fn split_laced(data: &Bytes, start: usize, lacing: u8) -> Result<Vec<Bytes>, WebmError> {
    let &count_minus_1 = data
        .get(start)
        .ok_or(WebmError::BadLacing("no frame count"))?;
    let count = usize::from(count_minus_1) + 1;
    let mut pos = start + 1;
    // Sizes of all frames but the last; the last takes what remains.
    let mut sizes = Vec::with_capacity(count);
    match lacing {
        LACING_XIPH => {
            for _ in 1..count {
                let mut size = 0usize;
                loop {
                    let &b = data
                        .get(pos)
                        .ok_or(WebmError::BadLacing("truncated Xiph size"))?;
                    pos += 1;
                    size += usize::from(b);
                    if b != 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        LACING_EBML => {
            let mut size: i64 = 0;
            for i in 1..count {
                let rest = data.get(pos..).unwrap_or_default();
                let Vint::Value(v, _, len) = ebml::read_vint(rest) else {
                    return Err(WebmError::BadLacing("bad EBML lace size"));
                };
                pos += len;
                // The first size is plain; the others are signed differences, coded as
                // unsigned with a bias of 2^(7·len − 1) − 1.
                let v = i64::try_from(v).map_err(|_| WebmError::BadLacing("EBML lace size"))?;
                size = if i == 1 {
                    v
                } else {
                    let bias = (1i64 << (7 * len - 1)) - 1;
                    size.checked_add(v - bias)
                        .ok_or(WebmError::BadLacing("EBML lace size"))?
                };
                sizes.push(
                    usize::try_from(size)
                        .map_err(|_| WebmError::BadLacing("negative EBML lace size"))?,
                );
            }
        }
        LACING_FIXED => {
            let total = data.len().saturating_sub(pos);
            if !total.is_multiple_of(count) {
                return Err(WebmError::BadLacing("fixed lacing does not divide evenly"));
            }
            sizes.resize(count - 1, total / count);
        }
        _ => return Err(WebmError::BadLacing("unknown lacing")),
    }
    let mut frames = Vec::with_capacity(count);
    for size in sizes {
        let end = pos
            .checked_add(size)
            .filter(|&end| end <= data.len())
            .ok_or(WebmError::BadLacing("lace sizes run past the block"))?;
        frames.push(data.slice(pos..end));
        pos = end;
    }
    frames.push(data.slice(pos.min(data.len())..));
    Ok(frames)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn frames(b: &Block) -> Vec<&[u8]> {
        b.frames.iter().map(|f| &f[..]).collect()
    }

    #[test]
    fn simple_block_unlaced() {
        // Chromium's first Opus block: track 1, time 0, keyframe.
        let data = Bytes::from_static(&[0x81, 0x00, 0x00, 0x80, 0xfb, 0x03, 0xff, 0xfe]);
        let b = parse_simple_block(&data).unwrap();
        assert_eq!((b.track, b.relative_timecode, b.keyframe), (1, 0, true));
        assert_eq!(frames(&b), vec![&[0xfb, 0x03, 0xff, 0xfe][..]]);
        assert_eq!(b.frames[0].as_ptr(), data[4..].as_ptr());
        // Negative relative time, 2-byte track number, not a keyframe.
        let data = Bytes::from_static(&[0x40, 0x81, 0xff, 0xfe, 0x00, 7]);
        let b = parse_simple_block(&data).unwrap();
        assert_eq!((b.track, b.relative_timecode, b.keyframe), (129, -2, false));
        assert!(parse_simple_block(&Bytes::from_static(&[0x81, 0])).is_err());
        assert!(parse_simple_block(&Bytes::from_static(&[0x00, 0, 0, 0])).is_err());
    }

    #[test]
    fn lacing_modes() {
        // Xiph: 3 frames of 2, 256 and 1 bytes.
        let mut x = vec![0x81, 0, 0, 0x80 | LACING_XIPH, 2, 2, 255, 1];
        x.extend([1, 1]);
        x.extend([2; 256]);
        x.push(3);
        let b = parse_simple_block(&Bytes::from(x)).unwrap();
        assert_eq!(
            b.frames.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![2, 256, 1]
        );
        // EBML: sizes 3, then 3 - 1 = 2 (signed 1-byte: 2 - 1 + 63 = 0x3e | 0x80), last 1.
        let e = [0x81, 0, 0, LACING_EBML, 2, 0x83, 0xbe, 1, 1, 1, 2, 2, 3];
        let b = parse_simple_block(&Bytes::copy_from_slice(&e)).unwrap();
        assert_eq!(frames(&b), vec![&[1, 1, 1][..], &[2, 2], &[3]]);
        // Fixed: 2 frames of 2.
        let f = [0x81, 0, 0, LACING_FIXED, 1, 1, 1, 2, 2];
        let b = parse_simple_block(&Bytes::copy_from_slice(&f)).unwrap();
        assert_eq!(frames(&b), vec![&[1, 1][..], &[2, 2]]);
        let bad = [0x81, 0, 0, LACING_FIXED, 1, 1, 1, 2];
        assert!(matches!(
            parse_simple_block(&Bytes::copy_from_slice(&bad)),
            Err(WebmError::BadLacing(_))
        ));
        let overrun = [0x81, 0, 0, LACING_XIPH, 1, 200, 1];
        assert!(parse_simple_block(&Bytes::copy_from_slice(&overrun)).is_err());
        let negative = [0x81, 0, 0, LACING_EBML, 2, 0x81, 0x80, 1];
        assert!(parse_simple_block(&Bytes::copy_from_slice(&negative)).is_err());
        assert!(parse_simple_block(&Bytes::copy_from_slice(&[0x81, 0, 0, LACING_XIPH])).is_err());
    }

    #[test]
    fn block_groups() {
        // BlockGroup { Block(track 2, t=5), ReferenceBlock(-40) }.
        let g = [0xA1, 0x85, 0x82, 0, 5, 0, 9, 0xFB, 0x81, 0xD8];
        let b = parse_block_group(&Bytes::copy_from_slice(&g), 0).unwrap();
        assert_eq!((b.track, b.relative_timecode, b.keyframe), (2, 5, false));
        assert_eq!(frames(&b), vec![&[9][..]]);
        let b = parse_block_group(&Bytes::copy_from_slice(&g[..7]), 0).unwrap();
        assert!(b.keyframe);
        assert_eq!(
            parse_block_group(&Bytes::from_static(&[0x9B, 0x81, 1]), 0),
            Err(WebmError::BadBlock("BlockGroup without a Block"))
        );
    }
}
