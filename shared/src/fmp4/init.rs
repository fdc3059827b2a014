//! The init segment: `ftyp` + `moov` with one `trak` per track and an `mvex`.
//!
//! ```text
//! ftyp
//! moov ─ mvhd
//!      ├ trak ─ tkhd
//!      │      └ mdia ─ mdhd, hdlr
//!      │             └ minf ─ vmhd|smhd, dinf(dref(url))
//!      │                    └ stbl ─ stsd(avc1|mp4a|Opus), stts, stsc, stsz, stco (empty)
//!      └ mvex ─ trex per track
//! ```

use bytes::{BufMut, BytesMut};

use super::boxes::{
    begin, begin_full, end, write_dinf, write_empty_sample_tables, write_ftyp, write_hdlr,
    write_mdhd, write_mvhd, write_smhd, write_tkhd, write_trex, write_vmhd,
};
use super::entry::write_sample_entry;
use super::{Fmp4Error, Track, TrackConfig};

/// Movie timescale of `mvhd`; only durations (all zero here) use it.
const MOVIE_TIMESCALE: u32 = 1000;

/// Appends an init segment (`ftyp` + `moov`) describing `tracks` to `out`.
///
/// Brands: major `iso6` (needed for `tfdt` version 1 and signed `trun` offsets), compatible
/// `iso6`, `cmfc` (CMAF), `mp41`, `dash`, plus `avc1` when there is an H.264 track.
/// On error nothing is appended.
pub fn write_init(tracks: &[Track], out: &mut BytesMut) -> Result<(), Fmp4Error> {
    validate(tracks)?;
    let mark = out.len();
    let result = write_unchecked(tracks, out);
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

fn validate(tracks: &[Track]) -> Result<(), Fmp4Error> {
    if tracks.is_empty() {
        return Err(Fmp4Error::NoTracks);
    }
    for (i, track) in tracks.iter().enumerate() {
        if track.id == 0 || tracks[..i].iter().any(|t| t.id == track.id) {
            return Err(Fmp4Error::BadTrackId(track.id));
        }
        if track.timescale == 0 {
            return Err(Fmp4Error::ZeroTimescale(track.id));
        }
    }
    Ok(())
}

fn write_unchecked(tracks: &[Track], out: &mut BytesMut) -> Result<(), Fmp4Error> {
    let mut brands: Vec<&[u8; 4]> = vec![b"iso6", b"cmfc", b"mp41", b"dash"];
    if tracks.iter().any(|t| t.config.is_video()) {
        brands.push(b"avc1");
    }
    write_ftyp(out, b"iso6", &brands)?;

    let moov = begin(out, b"moov");
    let next_track_id = tracks
        .iter()
        .map(|t| t.id)
        .max()
        .map_or(1, |id| id.saturating_add(1));
    write_mvhd(out, MOVIE_TIMESCALE, next_track_id)?;
    for track in tracks {
        write_trak(out, track)?;
    }
    let mvex = begin(out, b"mvex");
    for track in tracks {
        write_trex(out, track.id)?;
    }
    end(out, mvex)?;
    end(out, moov)
}

fn write_trak(out: &mut BytesMut, track: &Track) -> Result<(), Fmp4Error> {
    let video = track.config.is_video();
    let (width, height) = match &track.config {
        TrackConfig::Avc { width, height, .. } => (*width, *height),
        _ => (0, 0),
    };
    let trak = begin(out, b"trak");
    write_tkhd(out, track.id, !video, width, height)?;

    let media = begin_media(out, track)?;
    write_empty_sample_tables(out)?;
    media.end(out)?;
    end(out, trak)
}

/// The `mdia`, `minf` and `stbl` boxes [`begin_media`] leaves open, for the caller to fill
/// with its sample tables.
pub(crate) struct OpenMedia {
    pub mdia: usize,
    /// Where `mdhd` starts, for a writer that patches its duration afterwards.
    pub mdhd: usize,
    pub minf: usize,
    pub stbl: usize,
}

impl OpenMedia {
    /// Closes `stbl`, `minf` and `mdia`.
    pub(crate) fn end(self, out: &mut BytesMut) -> Result<(), Fmp4Error> {
        end(out, self.stbl)?;
        end(out, self.minf)?;
        end(out, self.mdia)
    }
}

/// Writes a track's `mdia` down to a complete `stsd` (handler, media header, sample entry):
/// the part fragmented (CMAF) and progressive (recording) MP4 share.
pub(crate) fn begin_media(out: &mut BytesMut, track: &Track) -> Result<OpenMedia, Fmp4Error> {
    let video = track.config.is_video();
    let mdia = begin(out, b"mdia");
    let mdhd = out.len();
    write_mdhd(out, track.timescale)?;
    if video {
        write_hdlr(out, b"vide", "VideoHandler")?;
    } else {
        write_hdlr(out, b"soun", "SoundHandler")?;
    }
    let minf = begin(out, b"minf");
    if video {
        write_vmhd(out)?;
    } else {
        write_smhd(out)?;
    }
    write_dinf(out)?;
    let stbl = begin(out, b"stbl");
    let stsd = begin_full(out, b"stsd", 0, 0);
    out.put_u32(1); // entry_count
    write_sample_entry(out, &track.config)?;
    end(out, stsd)?;
    Ok(OpenMedia {
        mdia,
        mdhd,
        minf,
        stbl,
    })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use bytes::Bytes;

    use super::*;

    fn aac(id: u32) -> Track {
        Track {
            id,
            timescale: 44100,
            config: TrackConfig::Aac {
                asc: Bytes::from_static(&[0x12, 0x10]),
                sample_rate: 44100,
                channels: 2,
            },
        }
    }

    #[test]
    fn audio_only_init_starts_with_ftyp_without_avc1_brand() {
        let mut out = BytesMut::new();
        write_init(&[aac(1)], &mut out).unwrap();
        assert_eq!(
            &out[..32],
            b"\x00\x00\x00\x20ftypiso6\x00\x00\x00\x00iso6cmfcmp41dash".as_slice()
        );
        assert_eq!(&out[36..40], b"moov");
        let moov_size = u32::from_be_bytes([out[32], out[33], out[34], out[35]]) as usize;
        assert_eq!(32 + moov_size, out.len());
        // next_track_ID is the last field of mvhd, which is the first box of moov.
        assert_eq!(&out[40 + 4..40 + 8], b"mvhd");
        assert_eq!(&out[40 + 104..40 + 108], &2u32.to_be_bytes());
    }

    #[test]
    fn rejects_bad_track_lists_and_appends_nothing() {
        let mut out = BytesMut::from(&b"keep"[..]);
        assert_eq!(write_init(&[], &mut out), Err(Fmp4Error::NoTracks));
        assert_eq!(
            write_init(&[aac(1), aac(1)], &mut out),
            Err(Fmp4Error::BadTrackId(1))
        );
        assert_eq!(
            write_init(&[aac(0)], &mut out),
            Err(Fmp4Error::BadTrackId(0))
        );
        let mut zero = aac(3);
        zero.timescale = 0;
        assert_eq!(
            write_init(&[zero], &mut out),
            Err(Fmp4Error::ZeroTimescale(3))
        );
        let opus = Track {
            id: 2,
            timescale: 48000,
            config: TrackConfig::Opus {
                channels: 3,
                pre_skip: 0,
                input_sample_rate: 48000,
                output_gain: 0,
            },
        };
        assert_eq!(
            write_init(&[aac(1), opus], &mut out),
            Err(Fmp4Error::UnsupportedOpusChannels(3))
        );
        assert_eq!(&out[..], b"keep");
    }
}
