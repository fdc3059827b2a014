//! Property test: any AMF0 value (NaN excluded, since NaN ≠ NaN) survives encode → decode,
//! and random bytes never make the decoder panic. Native only: proptest is not on wasm32.
#![cfg(not(target_arch = "wasm32"))]

use bytes::BytesMut;
use onair_shared::amf0::{Amf0Value, decode_all, decode_value, encode_all, encode_value};
use proptest::prelude::*;

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN is not equal to itself", |n| !n.is_nan()),
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
    ]
}

fn text() -> impl Strategy<Value = String> {
    // Short, possibly empty, with multi-byte characters.
    "\\PC{0,12}"
}

fn props(
    inner: impl Strategy<Value = Amf0Value>,
) -> impl Strategy<Value = Vec<(String, Amf0Value)>> {
    prop::collection::vec((text(), inner), 0..5)
}

fn value() -> impl Strategy<Value = Amf0Value> {
    let leaf = prop_oneof![
        number().prop_map(Amf0Value::Number),
        any::<bool>().prop_map(Amf0Value::Boolean),
        text().prop_map(Amf0Value::String),
        Just(Amf0Value::Null),
        Just(Amf0Value::Undefined),
        (number(), any::<i16>())
            .prop_map(|(millis, timezone)| Amf0Value::Date { millis, timezone }),
        text().prop_map(Amf0Value::LongString),
    ];
    leaf.prop_recursive(6, 64, 5, |inner| {
        prop_oneof![
            props(inner.clone()).prop_map(Amf0Value::Object),
            props(inner.clone()).prop_map(Amf0Value::EcmaArray),
            prop::collection::vec(inner, 0..5).prop_map(Amf0Value::StrictArray),
        ]
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(v in value()) {
        let mut out = BytesMut::new();
        encode_value(&v, &mut out);
        let mut buf: &[u8] = &out;
        prop_assert_eq!(decode_value(&mut buf), Ok(v));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn sequences_round_trip(vs in prop::collection::vec(value(), 0..4)) {
        let mut out = BytesMut::new();
        encode_all(&vs, &mut out);
        prop_assert_eq!(decode_all(&out), Ok(vs));
    }

    #[test]
    fn every_truncation_is_an_error(v in value()) {
        let mut out = BytesMut::new();
        encode_value(&v, &mut out);
        for cut in 0..out.len() {
            let mut buf = &out[..cut];
            prop_assert!(decode_value(&mut buf).is_err());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        // Whatever decodes must re-encode to bytes that decode to the same encoding.
        if let Ok(values) = decode_all(&bytes) {
            let mut once = BytesMut::new();
            encode_all(&values, &mut once);
            let again = decode_all(&once);
            prop_assert!(again.is_ok());
            let mut twice = BytesMut::new();
            encode_all(&again.unwrap_or_default(), &mut twice);
            prop_assert_eq!(once, twice);
        }
    }
}
