//! Sans-IO codecs and wire types shared by the onair server and the wasm client.
//!
//! # Layout
//! - [`media`]: the media model: an FLV tag body / RTMP payload becomes a typed unit (config,
//!   frame on a 64-bit timeline, script data) exactly once, here; every output reads those.
//! - [`amf0`]: AMF0 values, encoder and decoder (RTMP commands, `onMetaData`).
//! - [`flv`]: FLV file/tag headers, an incremental demuxer, a muxer, and the tag bodies
//!   (legacy AVC/AAC/MP3 and Enhanced RTMP/FLV with FourCCs).
//! - [`codec`]: codec configuration records: AVCDecoderConfigurationRecord, SPS parsing,
//!   Annex B ↔ AVCC, AAC AudioSpecificConfig, OpusHead.
//! - [`rtmp`]: the RTMP handshake, chunk stream and command layer as a server state machine.
//! - [`fmp4`]: fragmented MP4 (CMAF) writer: init segments and moof/mdat fragments.
//! - [`mp4`]: progressive MP4 writer (`moov` before `mdat`) for recordings.
//! - [`ts`]: MPEG-TS muxer for H.264 + AAC HLS.
//! - [`remux`]: FLV → fMP4 for MSE (the browser player), with the `onFI` capture clock.
//! - [`webm`]: WebM/Matroska demuxer for the studio's MediaRecorder fallback, and the
//!   conversion of its H.264 (Annex B from Chromium) and Opus tracks for the FLV muxer.
//! - [`chat`]: room chat messages (JSON, `{"type": …}` tagged) and their limits.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: bytes go in, events and
//! bytes come out, and time is an argument. Everything builds for native and wasm32, and
//! no function panics on network bytes: every parser returns an error enum instead.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod amf0;
pub mod chat;
pub mod codec;
pub mod flv;
pub mod fmp4;
pub mod media;
pub mod mp4;
pub mod remux;
pub mod rtmp;
pub mod ts;
pub mod webm;
