//! AMF0 encoder: appends values to a caller's `BytesMut` (RTMP command replies, `onMetaData`).
//!
//! Encoding cannot fail. Where a value does not fit the wire format it is written in the
//! closest form that does, documented on [`encode_value`].

use bytes::{BufMut, BytesMut};

use super::{Amf0Value, marker};

/// Appends the AMF0 encoding of `value` to `out`.
///
/// - A [`String`](Amf0Value::String) longer than 65535 bytes is written as a long string.
/// - Property names longer than 65535 bytes (the wire limit) are cut at the last UTF-8
///   character boundary that fits; a long string over 4 GiB and arrays with more than
///   `u32::MAX` items are cut the same way. None of these occur in RTMP or FLV metadata.
/// - An [`EcmaArray`](Amf0Value::EcmaArray) gets its real property count as the count hint.
pub fn encode_value(value: &Amf0Value, out: &mut BytesMut) {
    match value {
        Amf0Value::Number(n) => {
            out.put_u8(marker::NUMBER);
            out.put_f64(*n);
        }
        Amf0Value::Boolean(b) => {
            out.put_u8(marker::BOOLEAN);
            out.put_u8(u8::from(*b));
        }
        Amf0Value::String(s) if s.len() <= usize::from(u16::MAX) => {
            out.put_u8(marker::STRING);
            put_short_str(s, out);
        }
        Amf0Value::String(s) | Amf0Value::LongString(s) => {
            out.put_u8(marker::LONG_STRING);
            let s = clamp_utf8(s, u32::MAX as usize);
            out.put_u32(s.len() as u32);
            out.put_slice(s.as_bytes());
        }
        Amf0Value::Object(props) => {
            out.put_u8(marker::OBJECT);
            put_properties(props, out);
        }
        Amf0Value::Null => out.put_u8(marker::NULL),
        Amf0Value::Undefined => out.put_u8(marker::UNDEFINED),
        Amf0Value::EcmaArray(props) => {
            out.put_u8(marker::ECMA_ARRAY);
            out.put_u32(u32::try_from(props.len()).unwrap_or(u32::MAX));
            put_properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.put_u8(marker::STRICT_ARRAY);
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.put_u32(count);
            for item in items.iter().take(count as usize) {
                encode_value(item, out);
            }
        }
        Amf0Value::Date { millis, timezone } => {
            out.put_u8(marker::DATE);
            out.put_f64(*millis);
            out.put_i16(*timezone);
        }
    }
}

/// Appends every value in order (an RTMP command is a sequence of AMF0 values).
pub fn encode_all(values: &[Amf0Value], out: &mut BytesMut) {
    for value in values {
        encode_value(value, out);
    }
}

fn put_properties(props: &[(String, Amf0Value)], out: &mut BytesMut) {
    for (key, value) in props {
        put_short_str(key, out);
        encode_value(value, out);
    }
    // End of properties: an empty name followed by the object-end marker.
    out.put_u16(0);
    out.put_u8(marker::OBJECT_END);
}

fn put_short_str(s: &str, out: &mut BytesMut) {
    let s = clamp_utf8(s, usize::from(u16::MAX));
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn clamp_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::amf0::decode_all;

    fn enc(v: &Amf0Value) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_value(v, &mut out);
        out.to_vec()
    }

    #[test]
    fn scalars() {
        assert_eq!(
            enc(&Amf0Value::Number(1.0)),
            [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(enc(&Amf0Value::Boolean(true)), [0x01, 0x01]);
        assert_eq!(enc(&Amf0Value::Boolean(false)), [0x01, 0x00]);
        assert_eq!(enc(&Amf0Value::Null), [0x05]);
        assert_eq!(enc(&Amf0Value::Undefined), [0x06]);
        assert_eq!(enc(&Amf0Value::String("ok".into())), b"\x02\x00\x02ok");
        assert_eq!(
            enc(&Amf0Value::LongString("ok".into())),
            b"\x0c\x00\x00\x00\x02ok"
        );
        assert_eq!(
            enc(&Amf0Value::Date {
                millis: 0.0,
                timezone: 1
            }),
            [0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01]
        );
    }

    #[test]
    fn containers() {
        let obj = Amf0Value::Object(vec![("a".into(), Amf0Value::Null)]);
        assert_eq!(enc(&obj), b"\x03\x00\x01a\x05\x00\x00\x09");
        let ecma = Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)]);
        assert_eq!(enc(&ecma), b"\x08\x00\x00\x00\x01\x00\x01a\x05\x00\x00\x09");
        let arr = Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Undefined]);
        assert_eq!(enc(&arr), b"\x0a\x00\x00\x00\x02\x05\x06");
    }

    #[test]
    fn long_text_becomes_long_string() {
        let text = "é".repeat(40_000); // 80,000 bytes
        let bytes = enc(&Amf0Value::String(text.clone()));
        assert_eq!(bytes.get(..5), Some(&[0x0c, 0x00, 0x01, 0x38, 0x80][..]));
        assert_eq!(decode_all(&bytes), Ok(vec![Amf0Value::LongString(text)]));

        let max = "a".repeat(65_535);
        let bytes = enc(&Amf0Value::String(max.clone()));
        assert_eq!(bytes.first(), Some(&0x02));
        assert_eq!(decode_all(&bytes), Ok(vec![Amf0Value::String(max)]));
    }

    #[test]
    fn overlong_key_is_cut_on_a_char_boundary() {
        let key = "é".repeat(40_000);
        let bytes = enc(&Amf0Value::Object(vec![(key, Amf0Value::Null)]));
        let decoded = decode_all(&bytes);
        let Ok(values) = decoded else {
            panic!("decode failed: {decoded:?}");
        };
        let Some(Amf0Value::Object(props)) = values.first() else {
            panic!("not an object: {values:?}");
        };
        assert_eq!(props.first().map(|(k, _)| k.len()), Some(65_534));
    }

    #[test]
    fn encode_all_concatenates() {
        let mut out = BytesMut::new();
        encode_all(
            &[Amf0Value::String("_result".into()), Amf0Value::Number(1.0)],
            &mut out,
        );
        assert_eq!(
            decode_all(&out),
            Ok(vec![
                Amf0Value::String("_result".into()),
                Amf0Value::Number(1.0)
            ])
        );
    }
}
