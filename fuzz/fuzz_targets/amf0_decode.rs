//! Fuzz target: `amf0::decode_all` on arbitrary bytes must not panic, and whatever decodes
//! must survive re-encoding (encode → decode → encode gives the same bytes; comparing
//! bytes rather than values keeps NaN numbers comparable).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use onair_shared::amf0::{decode_all, decode_value, encode_all};

fuzz_target!(|data: &[u8]| {
    // Value by value, as the RTMP command layer reads: must stop cleanly on any error.
    let mut buf = data;
    while !buf.is_empty() {
        let before = buf.len();
        if decode_value(&mut buf).is_err() {
            break;
        }
        assert!(buf.len() < before, "decode_value did not advance");
    }

    if let Ok(values) = decode_all(data) {
        let mut once = BytesMut::new();
        encode_all(&values, &mut once);
        let again = match decode_all(&once) {
            Ok(v) => v,
            Err(e) => panic!("re-encoded AMF0 does not decode: {e}"),
        };
        let mut twice = BytesMut::new();
        encode_all(&again, &mut twice);
        assert_eq!(once, twice, "AMF0 re-encoding is not stable");
    }
});
