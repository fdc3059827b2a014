//! AMF0: the value encoding of RTMP command messages and of FLV `onMetaData` script tags.
//!
//! [`decode_value`] reads one value and advances the caller's slice, so an RTMP command
//! (`"connect"`, transaction id, command object, …) is read value by value; [`decode_all`]
//! reads a whole script-tag body. [`encode_value`] appends to a caller's `BytesMut`.
//!
//! Only the types RTMP peers and FLV files really use are supported (see [`Amf0Value`]);
//! references, typed objects, XML documents and the AMF3 switch are rejected with
//! [`Amf0Error::Unsupported`]. The decoder never panics on input bytes, bounds nesting at
//! [`MAX_DEPTH`] (hostile input must not overflow the stack) and never allocates more than
//! the input could fill.

mod decode;
mod encode;

pub use decode::{decode_all, decode_value};
pub use encode::{encode_all, encode_value};

/// Deepest nesting of objects / arrays the decoder accepts; real commands and metadata use 2–3.
pub const MAX_DEPTH: usize = 64;

/// Type markers (the first byte of every encoded value), from the AMF0 specification.
pub(crate) mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const MOVIECLIP: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0A;
    pub const DATE: u8 = 0x0B;
    pub const LONG_STRING: u8 = 0x0C;
    pub const UNSUPPORTED: u8 = 0x0D;
    pub const RECORDSET: u8 = 0x0E;
    pub const XML_DOCUMENT: u8 = 0x0F;
    pub const TYPED_OBJECT: u8 = 0x10;
    pub const AVMPLUS: u8 = 0x11;
}

/// One AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// IEEE-754 double (marker 0x00).
    Number(f64),
    /// Boolean (marker 0x01); any non-zero byte decodes as `true`.
    Boolean(bool),
    /// UTF-8 string of at most 65535 bytes (marker 0x02). Longer strings are encoded as a
    /// long string, so they decode back as [`Amf0Value::LongString`].
    String(String),
    /// Anonymous object (marker 0x03): properties in wire order.
    Object(Vec<(String, Amf0Value)>),
    /// Null (marker 0x05).
    Null,
    /// Undefined (marker 0x06).
    Undefined,
    /// Associative array (marker 0x08), as used by `onMetaData`: properties in wire order.
    /// The wire count is only a hint; the encoder writes the real property count.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// Dense array (marker 0x0A).
    StrictArray(Vec<Amf0Value>),
    /// Date (marker 0x0B): milliseconds since the Unix epoch and a timezone offset in
    /// minutes (which the specification says to ignore; kept for exact round trips).
    Date {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        millis: f64,
        /// Timezone offset in minutes, normally 0.
        timezone: i16,
    },
    /// UTF-8 string with a 32-bit length (marker 0x0C).
    LongString(String),
}

impl Amf0Value {
    /// The text of a [`String`](Amf0Value::String) or [`LongString`](Amf0Value::LongString).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a [`Number`](Amf0Value::Number).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a [`Boolean`](Amf0Value::Boolean).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The first property named `key` of an [`Object`](Amf0Value::Object) or an
    /// [`EcmaArray`](Amf0Value::EcmaArray); `None` for other values or a missing key.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        match self {
            Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

/// Why AMF0 bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Amf0Error {
    /// The input ends in the middle of a value.
    #[error("AMF0 input is truncated")]
    Truncated,
    /// A type marker that AMF0 does not define.
    #[error("unknown AMF0 type marker 0x{0:02x}")]
    UnknownMarker(u8),
    /// A type AMF0 defines but this decoder does not support (movie clip, reference,
    /// unsupported, record set, XML document, typed object, AVM+ switch).
    #[error("unsupported AMF0 type marker 0x{0:02x}")]
    Unsupported(u8),
    /// An object-end marker (0x09) where a value was expected.
    #[error("AMF0 object-end marker outside an object")]
    UnexpectedObjectEnd,
    /// A string or property name that is not valid UTF-8.
    #[error("AMF0 string is not valid UTF-8")]
    InvalidUtf8,
    /// Objects / arrays nested deeper than [`MAX_DEPTH`].
    #[error("AMF0 values nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn accessors() {
        let obj = Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String("live".into())),
            ("n".into(), Amf0Value::Number(2.0)),
            ("app".into(), Amf0Value::String("shadowed".into())),
        ]);
        assert_eq!(obj.get("app").and_then(Amf0Value::as_str), Some("live"));
        assert_eq!(obj.get("n").and_then(Amf0Value::as_number), Some(2.0));
        assert_eq!(obj.get("missing"), None);
        assert_eq!(Amf0Value::Null.get("app"), None);

        let arr = Amf0Value::EcmaArray(vec![("duration".into(), Amf0Value::Number(1.5))]);
        assert_eq!(
            arr.get("duration").and_then(Amf0Value::as_number),
            Some(1.5)
        );

        assert_eq!(Amf0Value::LongString("x".into()).as_str(), Some("x"));
        assert_eq!(Amf0Value::Number(1.0).as_str(), None);
        assert_eq!(Amf0Value::Boolean(true).as_bool(), Some(true));
        assert_eq!(Amf0Value::Null.as_bool(), None);
        assert_eq!(Amf0Value::Boolean(true).as_number(), None);
    }

    #[test]
    fn errors_have_messages() {
        assert_eq!(
            Amf0Error::UnknownMarker(0x42).to_string(),
            "unknown AMF0 type marker 0x42"
        );
        assert_eq!(
            Amf0Error::TooDeep.to_string(),
            "AMF0 values nested deeper than 64 levels"
        );
    }
}
