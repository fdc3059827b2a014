//! Fuzz target: arbitrary bytes into an RTMP `ServerSession` after a valid plain handshake
//! (and, depending on the first byte, after `connect` + `createStream` + an accepted
//! `publish`, accepted, so media, data and aggregate paths are reachable). Fed whole and in
//! arbitrary splits. Checks: no panic; the same events and the same error whatever the
//! splits (up to the call that fails); the buffered input stays bounded by the limits.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use onair_shared::amf0::Amf0Value;
use onair_shared::rtmp::command::encode_values;
use onair_shared::rtmp::handshake::{HANDSHAKE_RANDOM_LEN, HANDSHAKE_SIZE};
use onair_shared::rtmp::message::msg_type;
use onair_shared::rtmp::writer::{MessageHeader, write_message};
use onair_shared::rtmp::{ReaderLimits, ServerSession, SessionConfig, SessionEvent};

const LIMITS: ReaderLimits = ReaderLimits {
    max_chunk_size: 4096,
    max_message_len: 8192,
    max_chunk_streams: 8,
    max_pending_bytes: 16_384,
};

/// The client's opening: handshake, then optionally connect / createStream / publish.
fn preamble(publish: bool) -> Vec<u8> {
    let mut bytes = vec![3u8];
    bytes.resize(1 + 2 * HANDSHAKE_SIZE, 0);
    if publish {
        let mut out = BytesMut::new();
        let s = |x: &str| Amf0Value::String(x.into());
        let n = Amf0Value::Number;
        let commands = [
            (
                0,
                vec![
                    s("connect"),
                    n(1.0),
                    Amf0Value::Object(vec![("app".into(), s("live"))]),
                ],
            ),
            (0, vec![s("createStream"), n(2.0), Amf0Value::Null]),
            (
                1,
                vec![s("publish"), n(3.0), Amf0Value::Null, s("room"), s("live")],
            ),
        ];
        for (stream_id, values) in commands {
            let header = MessageHeader {
                csid: 3,
                timestamp: 0,
                type_id: msg_type::COMMAND_AMF0,
                stream_id,
            };
            write_message(&mut out, &header, &encode_values(&values), 128);
        }
        bytes.extend_from_slice(&out);
    }
    bytes
}

/// Runs the session over the preamble then `pieces`, accepting the preamble's publish;
/// returns the events (as Debug text, since AMF0 numbers may be NaN) and the error message.
fn run(preamble: &[u8], pieces: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let config = SessionConfig {
        limits: LIMITS,
        ..SessionConfig::default()
    };
    let mut session = ServerSession::new(config, &[0x5A; HANDSHAKE_RANDOM_LEN]);
    let mut out = BytesMut::new();
    for e in session.handle_input(preamble, &mut out).unwrap() {
        if let SessionEvent::PublishRequested { stream_id, .. } = e {
            session.accept_publish(stream_id, &mut out);
        }
    }
    let mut events = Vec::new();
    for piece in pieces {
        match session.handle_input(piece, &mut out) {
            Ok(evs) => events.extend(evs.iter().map(|e| format!("{e:?}"))),
            Err(e) => return (events, Some(e.to_string())),
        }
        // What stays buffered is at most one incomplete chunk: partial messages are kept
        // (bounded) by the reader, not in the input buffer.
        let bound = 18 + LIMITS.max_chunk_size as usize;
        assert!(session.input_buffer().len() <= bound, "input buffer grew");
        out.clear();
    }
    (events, None)
}

fuzz_target!(|data: &[u8]| {
    // First byte: bit 0 = run the publish preamble, the rest seeds the split sizes.
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let preamble = preamble(control & 1 == 1);

    let whole = run(&preamble, &[input]);

    let mut pieces = Vec::new();
    let mut rest = input;
    let mut seed = u32::from(control >> 1) + 1;
    while !rest.is_empty() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((seed >> 16) as usize % 300 + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        pieces.push(head);
        rest = tail;
    }
    let split = run(&preamble, &pieces);
    // On an error, the events of the failing call are dropped (the connection is over), so
    // the split run may have reported more of them before its last piece.
    assert_eq!(whole.1, split.1, "error depends on the split");
    if whole.1.is_none() {
        assert_eq!(whole.0, split.0, "events depend on the split");
    } else {
        assert!(split.0.starts_with(&whole.0), "events depend on the split");
    }
});
