//! AMF0 decoder: reads values from a byte slice, advancing it past what was read.
//!
//! Every read is length-checked (no indexing), lengths from the wire are compared with the
//! bytes actually left before anything is allocated, and nesting is bounded by
//! [`MAX_DEPTH`], so hostile input yields an [`Amf0Error`], never a panic or a huge
//! allocation.

use super::{Amf0Error, Amf0Value, MAX_DEPTH, marker};

/// Decodes one value from the front of `buf` and advances `buf` past it.
///
/// On error `buf` is left somewhere inside the bad value; callers should drop the message.
pub fn decode_value(buf: &mut &[u8]) -> Result<Amf0Value, Amf0Error> {
    decode_at(buf, 0)
}

/// Decodes values until `buf` is exhausted (a script-tag body, an RTMP command payload).
pub fn decode_all(mut buf: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut values = Vec::new();
    while !buf.is_empty() {
        values.push(decode_value(&mut buf)?);
    }
    Ok(values)
}

/// Most array slots reserved up front; longer arrays grow as their items actually decode.
const MAX_PREALLOC: usize = 1024;

fn decode_at(buf: &mut &[u8], depth: usize) -> Result<Amf0Value, Amf0Error> {
    let m = take_u8(buf)?;
    match m {
        marker::NUMBER => Ok(Amf0Value::Number(take_f64(buf)?)),
        marker::BOOLEAN => Ok(Amf0Value::Boolean(take_u8(buf)? != 0)),
        marker::STRING => Ok(Amf0Value::String(take_short_str(buf)?)),
        marker::OBJECT => Ok(Amf0Value::Object(take_properties(buf, depth)?)),
        marker::NULL => Ok(Amf0Value::Null),
        marker::UNDEFINED => Ok(Amf0Value::Undefined),
        marker::ECMA_ARRAY => {
            // The count is only a hint (encoders disagree on it) and must not size anything.
            let _count_hint = take_u32(buf)?;
            Ok(Amf0Value::EcmaArray(take_properties(buf, depth)?))
        }
        marker::STRICT_ARRAY => {
            let count = take_u32(buf)? as usize;
            let depth = nested(depth)?;
            // Every value takes at least one byte, so the input bounds the pre-allocation;
            // the fixed cap stops nested arrays from each reserving ~40 bytes per input byte.
            let mut items = Vec::with_capacity(count.min(buf.len()).min(MAX_PREALLOC));
            for _ in 0..count {
                items.push(decode_at(buf, depth)?);
            }
            Ok(Amf0Value::StrictArray(items))
        }
        marker::DATE => {
            let millis = take_f64(buf)?;
            let timezone = i16::from_be_bytes(take_array(buf)?);
            Ok(Amf0Value::Date { millis, timezone })
        }
        marker::LONG_STRING => {
            let len = take_u32(buf)? as usize;
            Ok(Amf0Value::LongString(take_str(buf, len)?))
        }
        marker::OBJECT_END => Err(Amf0Error::UnexpectedObjectEnd),
        marker::MOVIECLIP
        | marker::REFERENCE
        | marker::UNSUPPORTED
        | marker::RECORDSET
        | marker::XML_DOCUMENT
        | marker::TYPED_OBJECT
        | marker::AVMPLUS => Err(Amf0Error::Unsupported(m)),
        other => Err(Amf0Error::UnknownMarker(other)),
    }
}

/// Reads `name value` pairs up to the end sequence: an empty name followed by 0x09.
///
/// An empty name followed by any other marker is an ordinary property with an empty name,
/// so every `Vec<(String, Amf0Value)>` survives an encode → decode round trip.
fn take_properties(buf: &mut &[u8], depth: usize) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
    let depth = nested(depth)?;
    let mut props = Vec::new();
    loop {
        let key = take_short_str(buf)?;
        if key.is_empty() && buf.first() == Some(&marker::OBJECT_END) {
            *buf = buf.get(1..).unwrap_or_default();
            return Ok(props);
        }
        let value = decode_at(buf, depth)?;
        props.push((key, value));
    }
}

fn nested(depth: usize) -> Result<usize, Amf0Error> {
    if depth >= MAX_DEPTH {
        Err(Amf0Error::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

fn take_bytes<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], Amf0Error> {
    if buf.len() < n {
        return Err(Amf0Error::Truncated);
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take_array<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], Amf0Error> {
    let bytes = take_bytes(buf, N)?;
    <[u8; N]>::try_from(bytes).map_err(|_| Amf0Error::Truncated)
}

fn take_u8(buf: &mut &[u8]) -> Result<u8, Amf0Error> {
    Ok(u8::from_be_bytes(take_array(buf)?))
}

fn take_u32(buf: &mut &[u8]) -> Result<u32, Amf0Error> {
    Ok(u32::from_be_bytes(take_array(buf)?))
}

fn take_f64(buf: &mut &[u8]) -> Result<f64, Amf0Error> {
    Ok(f64::from_be_bytes(take_array(buf)?))
}

fn take_short_str(buf: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = u16::from_be_bytes(take_array(buf)?) as usize;
    take_str(buf, len)
}

fn take_str(buf: &mut &[u8], len: usize) -> Result<String, Amf0Error> {
    let bytes = take_bytes(buf, len)?;
    core::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Amf0Error::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn one(bytes: &[u8]) -> Result<Amf0Value, Amf0Error> {
        let mut buf = bytes;
        let v = decode_value(&mut buf)?;
        assert!(buf.is_empty(), "left over: {buf:02x?}");
        Ok(v)
    }

    #[test]
    fn number() {
        let v = one(&[0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(v, Ok(Amf0Value::Number(1.0)));
    }

    #[test]
    fn boolean_any_nonzero_is_true() {
        assert_eq!(one(&[0x01, 0x00]), Ok(Amf0Value::Boolean(false)));
        assert_eq!(one(&[0x01, 0x01]), Ok(Amf0Value::Boolean(true)));
        assert_eq!(one(&[0x01, 0x7f]), Ok(Amf0Value::Boolean(true)));
    }

    #[test]
    fn string_and_long_string() {
        assert_eq!(
            one(b"\x02\x00\x07connect"),
            Ok(Amf0Value::String("connect".into()))
        );
        assert_eq!(one(b"\x02\x00\x00"), Ok(Amf0Value::String(String::new())));
        assert_eq!(
            one(b"\x0c\x00\x00\x00\x03h\xc3\xa9"),
            Ok(Amf0Value::LongString("hé".into()))
        );
    }

    #[test]
    fn null_undefined_date() {
        assert_eq!(one(&[0x05]), Ok(Amf0Value::Null));
        assert_eq!(one(&[0x06]), Ok(Amf0Value::Undefined));
        let mut date = vec![0x0b];
        date.extend_from_slice(&1_700_000_000_000f64.to_be_bytes());
        date.extend_from_slice(&(-60i16).to_be_bytes());
        assert_eq!(
            one(&date),
            Ok(Amf0Value::Date {
                millis: 1_700_000_000_000.0,
                timezone: -60
            })
        );
    }

    #[test]
    fn object_in_order() {
        // {app: "live", flashVer: "FMLE/3.0", n: null}
        let bytes = b"\x03\x00\x03app\x02\x00\x04live\x00\x08flashVer\x02\x00\x08FMLE/3.0\
                      \x00\x01n\x05\x00\x00\x09";
        let v = one(bytes);
        assert_eq!(
            v,
            Ok(Amf0Value::Object(vec![
                ("app".into(), Amf0Value::String("live".into())),
                ("flashVer".into(), Amf0Value::String("FMLE/3.0".into())),
                ("n".into(), Amf0Value::Null),
            ]))
        );
    }

    #[test]
    fn empty_key_that_is_not_the_end_is_a_property() {
        let v = one(b"\x03\x00\x00\x05\x00\x00\x09");
        assert_eq!(
            v,
            Ok(Amf0Value::Object(vec![(String::new(), Amf0Value::Null)]))
        );
    }

    #[test]
    fn ecma_array_ignores_count_hint() {
        // Count says 1000, but only one property follows: the end marker wins.
        let bytes = b"\x08\x00\x00\x03\xe8\x00\x08duration\x00\x40\x00\0\0\0\0\0\0\x00\x00\x09";
        assert_eq!(
            one(bytes),
            Ok(Amf0Value::EcmaArray(vec![(
                "duration".into(),
                Amf0Value::Number(2.0)
            )]))
        );
    }

    #[test]
    fn strict_array() {
        let bytes = b"\x0a\x00\x00\x00\x02\x05\x01\x01";
        assert_eq!(
            one(bytes),
            Ok(Amf0Value::StrictArray(vec![
                Amf0Value::Null,
                Amf0Value::Boolean(true)
            ]))
        );
    }

    #[test]
    fn strict_array_with_huge_count_is_truncated_not_oom() {
        assert_eq!(one(b"\x0a\xff\xff\xff\xff\x05"), Err(Amf0Error::Truncated));
    }

    #[test]
    fn decode_value_advances_and_decode_all_reads_everything() {
        // An RTMP `connect`: name, transaction id, command object.
        let bytes = b"\x02\x00\x07connect\x00\x3f\xf0\0\0\0\0\0\0\x03\x00\x03app\x02\x00\x04live\x00\x00\x09";
        let mut buf: &[u8] = bytes;
        assert_eq!(
            decode_value(&mut buf).as_ref().map(|v| v.as_str()),
            Ok(Some("connect"))
        );
        assert_eq!(buf.len(), bytes.len() - 10);
        let all = decode_all(bytes);
        assert_eq!(all.as_ref().map(Vec::len), Ok(3));
        let all = all.unwrap_or_default();
        assert_eq!(all.get(1).and_then(Amf0Value::as_number), Some(1.0));
        assert_eq!(
            all.get(2)
                .and_then(|o| o.get("app"))
                .and_then(Amf0Value::as_str),
            Some("live")
        );
        assert_eq!(decode_all(&[]), Ok(vec![]));
    }

    #[test]
    fn truncated_everywhere() {
        let full = b"\x03\x00\x03app\x02\x00\x04live\x00\x01d\x0b\0\0\0\0\0\0\0\0\0\0\x00\x01a\x0a\x00\x00\x00\x01\x00\0\0\0\0\0\0\0\0\x00\x00\x09";
        assert!(one(full).is_ok());
        for cut in 0..full.len() {
            let mut buf = full.get(..cut).unwrap_or_default();
            assert_eq!(
                decode_value(&mut buf),
                Err(Amf0Error::Truncated),
                "cut at {cut}"
            );
        }
        assert_eq!(one(b"\x0c\xff\xff\xff\xffabc"), Err(Amf0Error::Truncated));
        assert_eq!(one(b"\x02\x00\x05abc"), Err(Amf0Error::Truncated));
    }

    #[test]
    fn bad_markers() {
        assert_eq!(one(&[0x12]), Err(Amf0Error::UnknownMarker(0x12)));
        assert_eq!(one(&[0xff]), Err(Amf0Error::UnknownMarker(0xff)));
        assert_eq!(one(&[0x07, 0x00, 0x01]), Err(Amf0Error::Unsupported(0x07)));
        assert_eq!(one(&[0x11]), Err(Amf0Error::Unsupported(0x11)));
        assert_eq!(one(&[0x09]), Err(Amf0Error::UnexpectedObjectEnd));
        assert_eq!(
            decode_all(b"\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09"),
            Err(Amf0Error::UnexpectedObjectEnd)
        );
    }

    #[test]
    fn invalid_utf8() {
        assert_eq!(one(b"\x02\x00\x01\xff"), Err(Amf0Error::InvalidUtf8));
        assert_eq!(
            one(b"\x03\x00\x01\xc3\x05\x00\x00\x09"),
            Err(Amf0Error::InvalidUtf8)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        // 10,000 nested strict arrays would overflow the stack without the bound.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x0a, 0, 0, 0, 1]);
        }
        deep.push(0x05);
        assert_eq!(decode_all(&deep), Err(Amf0Error::TooDeep));

        let mut objects = Vec::new();
        for _ in 0..10_000 {
            objects.extend_from_slice(b"\x03\x00\x01k");
        }
        assert_eq!(decode_all(&objects), Err(Amf0Error::TooDeep));

        // Exactly MAX_DEPTH levels is fine.
        let mut ok = Vec::new();
        for _ in 0..MAX_DEPTH {
            ok.extend_from_slice(&[0x0a, 0, 0, 0, 1]);
        }
        ok.push(0x05);
        assert!(decode_all(&ok).is_ok());
    }
}
