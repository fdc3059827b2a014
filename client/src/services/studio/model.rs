//! The studio's vocabulary: what the page asks for (`Settings`) and what it is told
//! (`StudioEvent`: link state, stats, preview, failure).

/// What to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Camera,
    Screen { mic: bool },
}

/// How to broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub source: Source,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate: u32,
    /// `ws(s)://HOST/live/ROOM.flv?key=KEY[&…]`.
    pub push_url: String,
    /// Use MediaRecorder (WebM) instead of WebCodecs.
    pub recorder: bool,
}

/// Where the broadcast stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Asking for the camera / screen, setting up encoders.
    Starting,
    Connecting,
    Live,
    /// The socket dropped; this is the n-th attempt to get it back.
    Reconnecting(u32),
    Stopped,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Starting => "starting",
            LinkState::Connecting => "connecting",
            LinkState::Live => "live",
            LinkState::Reconnecting(_) => "reconnecting",
            LinkState::Stopped => "stopped",
        }
    }
}

/// Why a broadcast could not start or had to stop; each is shown with a way forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudioError {
    Denied(&'static str),
    NoDevice(&'static str),
    Capture { what: &'static str, detail: String },
    Unsupported(String),
    Encoder(String),
    KeyRefused(String),
    NameTaken(String),
    Refused(String),
    Unreachable,
}

impl std::fmt::Display for StudioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StudioError::Denied(what) => write!(f, "Access to the {what} was denied."),
            StudioError::NoDevice(what) => write!(f, "No {what} was found."),
            StudioError::Capture { what, detail } => {
                write!(f, "Could not capture the {what}: {detail}")
            }
            StudioError::Unsupported(e) => write!(f, "This browser cannot encode the stream: {e}"),
            StudioError::Encoder(e) => write!(f, "The encoder failed: {e}"),
            StudioError::KeyRefused(e) => write!(f, "The server refused the stream key: {e}"),
            StudioError::NameTaken(e) => {
                write!(f, "This stream is already live from somewhere else: {e}")
            }
            StudioError::Refused(e) => write!(f, "The server closed the stream: {e}"),
            StudioError::Unreachable => write!(f, "The server cannot be reached."),
        }
    }
}

impl StudioError {
    /// What the broadcaster can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            StudioError::Denied(_) => {
                "Allow access in the browser's site settings (the icon left of the address), then press Go live again."
            }
            StudioError::NoDevice(_) => {
                "Connect a camera / microphone, or share your screen instead."
            }
            StudioError::Capture { .. } => "Close other apps using the device and try again.",
            StudioError::Unsupported(_) | StudioError::Encoder(_) => {
                "Use a recent Chrome, Edge or Firefox, or push with OBS using the settings below."
            }
            StudioError::KeyRefused(_) => {
                "The key may have been replaced, or the room closed: open the studio without ?room= and \
                 sign in to pick your room (going live makes a new key)."
            }
            StudioError::NameTaken(_) => {
                "Stop the other broadcast first (or wait 10 s after it dropped), then Go live again."
            }
            StudioError::Refused(_) => "Press Go live to start again.",
            StudioError::Unreachable => "Check your connection, then press Go live again.",
        }
    }
}

/// Numbers for the status panel (and `window.onairStudio`), refreshed about once a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub sent_bytes: f64,
    pub bitrate_kbps: f64,
    pub target_kbps: u32,
    pub fps: f64,
    pub frames_encoded: u64,
    pub dropped_frames: u64,
    pub encoder_queue: u32,
    pub buffered_amount: u32,
    pub max_buffered_amount: u32,
    /// Bytes sent that the server has not acknowledged yet (see `uplink`).
    pub in_flight: u32,
    pub max_in_flight: u32,
    pub reconnects: u32,
    pub congested: bool,
    pub video_codec: String,
    pub audio_codec: String,
    pub width: u32,
    pub height: u32,
    pub elapsed_s: f64,
    pub recorder: bool,
}

/// What the engine reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum StudioEvent {
    State(LinkState),
    Stats(Stats),
    /// The capture stream, for the preview `<video>`.
    Preview(web_sys::MediaStream),
    Failed(StudioError),
}
