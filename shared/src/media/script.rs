//! Script data (FLV tag type 18, RTMP data messages): AMF0 values, name first.
//!
//! Two names matter to onair: `onMetaData` (replayed to every new viewer) and `onFI`, the
//! capture wall clock a studio stamps on frames for glass-to-glass latency
//! ([`crate::remux::clock`] writes it). RTMP publishers wrap metadata in `@setDataFrame`;
//! that wrapper is cut off here (by slicing, not re-encoding), so viewers and recordings
//! get the plain `onMetaData` FLV files carry.

use bytes::Bytes;

use super::MediaError;
use crate::amf0::{self, Amf0Value};

/// The name of the metadata script tag.
pub const ON_METADATA: &str = "onMetaData";
/// The name of the frame-info script tag carrying the capture clock.
pub const ON_FI: &str = "onFI";
/// The RTMP wrapper around metadata an encoder asks the server to store.
const SET_DATA_FRAME: &str = "@setDataFrame";

/// One script tag, decoded once.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The first value: `onMetaData`, `onFI`, `onTextData`, `onCuePoint`, …
    pub name: String,
    /// What it means to onair.
    pub value: ScriptValue,
    /// The body to send on: the tag body without any `@setDataFrame` wrapper (a slice of it).
    pub body: Bytes,
}

/// The typed content of a [`Script`].
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptValue {
    /// `onMetaData`: the values after the name (normally one ECMA array).
    Metadata(Vec<Amf0Value>),
    /// `onFI` with a usable `wallclock`: capture time in ms since the Unix epoch.
    Clock {
        /// Capture time, ms since the Unix epoch.
        wallclock_ms: f64,
    },
    /// Anything else (an `onFI` without `wallclock` included): carried, not interpreted.
    Other,
}

impl Script {
    /// Decodes a script tag body.
    pub fn parse(body: &Bytes) -> Result<Self, MediaError> {
        let mut rest: &[u8] = body;
        let mut name = read_name(&mut rest)?;
        let mut start = 0;
        if name == SET_DATA_FRAME {
            start = body.len() - rest.len();
            name = read_name(&mut rest)?;
        }
        let value = match name.as_str() {
            ON_METADATA => ScriptValue::Metadata(amf0::decode_all(rest)?),
            ON_FI => match amf0::decode_value(&mut rest)?
                .get("wallclock")
                .and_then(Amf0Value::as_number)
            {
                Some(ms) if ms.is_finite() && ms > 0.0 => ScriptValue::Clock { wallclock_ms: ms },
                _ => ScriptValue::Other,
            },
            _ => ScriptValue::Other,
        };
        Ok(Self {
            name,
            value,
            body: body.slice(start..),
        })
    }

    /// Whether this is `onMetaData` (what new viewers get replayed).
    pub fn is_metadata(&self) -> bool {
        matches!(self.value, ScriptValue::Metadata(_))
    }

    /// The capture wall clock of an `onFI` stamp.
    pub fn wallclock_ms(&self) -> Option<f64> {
        match self.value {
            ScriptValue::Clock { wallclock_ms } => Some(wallclock_ms),
            _ => None,
        }
    }
}

fn read_name(rest: &mut &[u8]) -> Result<String, MediaError> {
    match amf0::decode_value(rest)? {
        Amf0Value::String(s) | Amf0Value::LongString(s) => Ok(s),
        _ => Err(MediaError::UnnamedScript),
    }
}
