//! The one interface between the player's lifecycle and its transports: a [`Transport`] is
//! opened once per connection and reports back only through [`Msg`]s, so the transports
//! know nothing of the lifecycle and the lifecycle nothing of sockets or playlists.

use std::rc::Rc;

use bytes::Bytes;
use onair_shared::remux::ClockStamp;
use web_sys::HtmlVideoElement;

/// How the player fetches the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `ws://HOST/live/ROOM.flv`.
    WsFlv,
    /// `GET /live/ROOM.flv` read as a stream.
    HttpFlv,
    /// The CMAF LL-HLS playlist: native HLS where the browser has it, else MSE.
    Hls,
    /// The CMAF LL-HLS playlist through MSE even where native HLS exists.
    HlsMse,
}

/// fMP4 for the `MediaSource`, whatever the wire format was.
pub enum Media {
    /// An init segment. `new_source`: the set of tracks changed, and a `SourceBuffer`
    /// cannot gain or lose a track, so a new `MediaSource` is needed.
    Init {
        mime: String,
        data: Bytes,
        new_source: bool,
    },
    /// A media segment with this many video frames (for the frame rate).
    Segment { data: Bytes, video_frames: u32 },
    /// The frame at `media_time` was captured at a known wall-clock time (FLV `onFI`).
    Clock(ClockStamp),
}

/// What a transport tells the lifecycle, from its browser callbacks.
pub enum Msg {
    /// `received` bytes came off the wire and became `media`; `failure` stopped the rest.
    Media {
        received: usize,
        media: Vec<Media>,
        failure: Option<String>,
    },
    /// The connection ended; `Some(reason)` when it failed rather than ended normally.
    Ended(Option<String>),
}

/// Where a transport sends its [`Msg`]s. The lifecycle's end holds only a `Weak` to it,
/// so a transport outliving the player reports into nothing.
pub type Report = Rc<dyn Fn(Msg)>;

/// An open connection. Dropping it closes it and silences its callbacks, so it must never
/// be dropped inside one of them: the lifecycle parks it until its next tick.
pub trait Connection {}

/// One way of bringing the stream into the `<video>`, chosen when the player starts.
pub trait Transport {
    /// What `window.onairStats.protocol` says.
    fn label(&self) -> &'static str;

    /// Whether what plays is what the server's stream list says (HLS: the server packages
    /// the fMP4 itself), so the stats can show those codecs before any media arrives.
    fn plays_listed_codecs(&self) -> bool {
        false
    }

    /// Whether media comes through our `MediaSource` (attached before [`Self::open`]);
    /// otherwise the browser fetches and plays the stream itself.
    fn uses_mse(&self) -> bool {
        true
    }

    /// Connects to `room`, whose fMP4 type is `mime` (from the server's stream list, or ""
    /// when unknown); `query` (`?token=…` or "") goes on every URL. Media and the end come
    /// back through `report`.
    fn open(
        &self,
        room: &str,
        query: &str,
        mime: &str,
        video: &HtmlVideoElement,
        report: Report,
    ) -> Result<Box<dyn Connection>, String>;

    /// Checked on every tick: the browser is playing the stream by itself (no bytes pass
    /// through us to tell that media is flowing).
    fn playing_by_itself(&self, _video: &HtmlVideoElement) -> bool {
        false
    }
}
