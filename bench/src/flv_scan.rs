//! What a light viewer needs to follow an FLV byte stream without copying it: a tag-header
//! scanner (11-byte headers, plus the first two body bytes of video tags to spot key
//! frames; bodies are skipped) and an HTTP/1.1 `Transfer-Encoding: chunked` decoder that
//! hands out sub-slices of the read buffer.

/// Bytes before the first tag: the 9-byte file header and `PreviousTagSize0`.
const FILE_PREFIX: usize = 13;
/// FLV tag header size.
const TAG_HEADER: usize = 11;

/// The header of one tag, as seen by [`FlvScanner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagInfo {
    /// 8 audio, 9 video, 18 script.
    pub type_id: u8,
    /// Timestamp, ms (24 bits + extension byte).
    pub timestamp: u32,
    /// Body size.
    pub size: u32,
    /// First two body bytes of a video tag with at least two body bytes.
    pub first: Option<[u8; 2]>,
}

pub use onair_shared::media::video_keyframe_hint as is_keyframe;

/// Follows tag headers through an FLV byte stream split anywhere.
#[derive(Debug)]
pub struct FlvScanner {
    /// Bytes still to skip: the file prefix, then each body and its `PreviousTagSize`.
    skip: usize,
    header: [u8; TAG_HEADER + 2],
    have: usize,
    want: usize,
}

impl Default for FlvScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvScanner {
    /// A scanner at the start of an FLV stream (file header first).
    pub fn new() -> Self {
        Self {
            skip: FILE_PREFIX,
            header: [0; TAG_HEADER + 2],
            have: 0,
            want: TAG_HEADER,
        }
    }

    /// Feeds the next bytes; calls `on_tag` for every tag header completed in them.
    pub fn feed(&mut self, mut data: &[u8], mut on_tag: impl FnMut(TagInfo)) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                data = data.get(n..).unwrap_or_default();
                self.skip -= n;
                continue;
            }
            let n = (self.want - self.have).min(data.len());
            if let (Some(dst), Some(src)) =
                (self.header.get_mut(self.have..self.have + n), data.get(..n))
            {
                dst.copy_from_slice(src);
            }
            self.have += n;
            data = data.get(n..).unwrap_or_default();
            if self.have < self.want {
                return;
            }
            let h = &self.header;
            let type_id = h[0] & 0x1F;
            let size = u32::from_be_bytes([0, h[1], h[2], h[3]]);
            let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
            if self.want == TAG_HEADER && type_id == 9 && size >= 2 {
                self.want = TAG_HEADER + 2;
                continue;
            }
            let peeked = self.want - TAG_HEADER;
            let first = (peeked == 2).then(|| [h[11], h[12]]);
            on_tag(TagInfo {
                type_id,
                timestamp,
                size,
                first,
            });
            self.skip = size as usize - peeked + 4;
            self.have = 0;
            self.want = TAG_HEADER;
        }
    }
}

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk-size line with something other than hex digits before `;` or CRLF.
    BadSize,
    /// A chunk's data was not followed by CRLF.
    MissingCrlf,
}

impl std::fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadSize => write!(f, "bad chunk-size line in a chunked body"),
            Self::MissingCrlf => write!(f, "chunk data not followed by CRLF"),
        }
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of the size; `ext` after a `;`.
    Size {
        value: usize,
        digits: usize,
        ext: bool,
    },
    /// Inside a chunk's data.
    Data(usize),
    /// Expecting the CR, then the LF after the data.
    Cr,
    Lf,
    /// The last (zero-size) chunk was seen; trailers and the rest are ignored.
    Done,
}

/// Decodes `Transfer-Encoding: chunked`, handing out the data as sub-slices of the input.
#[derive(Debug)]
pub struct Dechunker {
    state: ChunkState,
}

impl Default for Dechunker {
    fn default() -> Self {
        Self::new()
    }
}

impl Dechunker {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self {
            state: ChunkState::Size {
                value: 0,
                digits: 0,
                ext: false,
            },
        }
    }

    /// Whether the terminating zero-size chunk has been seen.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Feeds body bytes; `on_data` receives the chunk data inside them, in order.
    pub fn feed<'a>(
        &mut self,
        mut input: &'a [u8],
        mut on_data: impl FnMut(&'a [u8]),
    ) -> Result<(), ChunkedError> {
        while let Some((&byte, rest)) = input.split_first() {
            match &mut self.state {
                ChunkState::Data(left) => {
                    let n = (*left).min(input.len());
                    let (data, rest) = input.split_at(n);
                    on_data(data);
                    *left -= n;
                    if *left == 0 {
                        self.state = ChunkState::Cr;
                    }
                    input = rest;
                    continue;
                }
                ChunkState::Size { value, digits, ext } => match byte {
                    b'\r' => {}
                    b'\n' if *digits > 0 => {
                        self.state = if *value == 0 {
                            ChunkState::Done
                        } else {
                            ChunkState::Data(*value)
                        };
                    }
                    _ if *ext => {}
                    b';' | b' ' | b'\t' if *digits > 0 => *ext = true,
                    _ => {
                        let digit = (byte as char).to_digit(16).ok_or(ChunkedError::BadSize)?;
                        if *digits >= 12 {
                            return Err(ChunkedError::BadSize);
                        }
                        *value = *value * 16 + digit as usize;
                        *digits += 1;
                    }
                },
                ChunkState::Cr if byte == b'\r' => self.state = ChunkState::Lf,
                ChunkState::Lf if byte == b'\n' => {
                    self.state = ChunkState::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                    };
                }
                ChunkState::Cr | ChunkState::Lf => return Err(ChunkedError::MissingCrlf),
                ChunkState::Done => return Ok(()),
            }
            input = rest;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(type_id: u8, ts: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![type_id];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&ts.to_be_bytes()[1..]);
        v.push((ts >> 24) as u8);
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(body);
        v.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        v
    }

    fn stream() -> Vec<u8> {
        let mut s = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        s.extend(tag(18, 0, b"meta"));
        s.extend(tag(9, 0, &[0x17, 0, 1, 2, 3]));
        s.extend(tag(8, 23, &[0xAF, 1, 9, 9]));
        s.extend(tag(9, 0x0100_0021, &[0x17, 1, 7]));
        s.extend(tag(9, 0x0100_0042, &[0x27]));
        s
    }

    fn scan_in_pieces(data: &[u8], piece: usize) -> Vec<TagInfo> {
        let mut scanner = FlvScanner::new();
        let mut tags = Vec::new();
        for chunk in data.chunks(piece) {
            scanner.feed(chunk, |t| tags.push(t));
        }
        tags
    }

    #[test]
    fn scans_headers_whatever_the_split() {
        let data = stream();
        let whole = scan_in_pieces(&data, data.len());
        assert_eq!(whole.len(), 5);
        assert_eq!(whole[1].first, Some([0x17, 0]));
        assert_eq!(whole[2].timestamp, 23);
        assert_eq!(whole[3].timestamp, 0x0100_0021);
        assert_eq!(whole[4].first, None);
        assert!(!is_keyframe(whole[1].first.unwrap()));
        assert!(is_keyframe(whole[3].first.unwrap()));
        for piece in 1..20 {
            assert_eq!(scan_in_pieces(&data, piece), whole, "piece {piece}");
        }
    }

    #[test]
    fn dechunks_whatever_the_split() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        for piece in 1..body.len() {
            let mut d = Dechunker::new();
            let mut out = Vec::new();
            for chunk in body.chunks(piece) {
                d.feed(chunk, |data| out.extend_from_slice(data)).unwrap();
            }
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.", "piece {piece}");
            assert!(d.done());
        }
        let mut d = Dechunker::new();
        assert_eq!(d.feed(b"zz\r\n", |_| {}), Err(ChunkedError::BadSize));
        let mut d = Dechunker::new();
        assert_eq!(d.feed(b"1\r\nab", |_| {}), Err(ChunkedError::MissingCrlf));
    }
}
