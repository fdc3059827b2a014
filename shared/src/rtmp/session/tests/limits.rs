//! Limits a peer runs into: streams per connection, chunk size, and how large a message
//! may be before and after a publish is accepted.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

#[test]
fn stream_limit_and_id_reuse() {
    let mut c = Client::connected();
    for i in 0..8 {
        c.command(
            0,
            &[
                string("createStream"),
                num(f64::from(i) + 2.0),
                Amf0Value::Null,
            ],
        );
    }
    c.replies();
    c.command(
        0,
        &[string("deleteStream"), num(0.0), Amf0Value::Null, num(1.0)],
    );
    c.command(0, &[string("createStream"), num(20.0), Amf0Value::Null]);
    let v = decode_all(&c.replies()[0].payload).unwrap();
    assert_eq!(v[3], num(1.0), "the freed id 1 is reused");
    let mut bytes = BytesMut::new();
    let body = encode_values(&[string("createStream"), num(21.0), Amf0Value::Null]);
    let header = MessageHeader {
        csid: 3,
        timestamp: 0,
        type_id: 20,
        stream_id: 0,
    };
    write_message(&mut bytes, &header, &body, 128);
    let err = c
        .session
        .handle_input(&bytes, &mut BytesMut::new())
        .unwrap_err();
    assert!(matches!(err, RtmpError::TooManyStreams { max: 8 }));
}

#[test]
fn huge_chunk_size_from_the_peer_is_an_error() {
    let mut c = Client::connected();
    let mut bytes = BytesMut::new();
    let header = MessageHeader {
        csid: 2,
        timestamp: 0,
        type_id: 1,
        stream_id: 0,
    };
    write_message(&mut bytes, &header, &(16u32 << 20).to_be_bytes(), 128);
    let err = c
        .session
        .handle_input(&bytes, &mut BytesMut::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "peer set chunk size 16777216, outside the accepted range 1..=65536"
    );
}

/// A message announced larger than the pre-publish limit (64 KiB) is refused from its
/// header alone, before a byte of it is buffered; once a publish is accepted, media up to
/// the full limit passes.
#[test]
fn large_messages_only_after_publish_is_accepted() {
    let announce = |len: u32, type_id: u8, stream_id: u32| {
        // One type-0 chunk header and 10 payload bytes: the rest never needs to arrive.
        let mut b = vec![3u8, 0, 0, 0];
        b.extend_from_slice(&len.to_be_bytes()[1..]);
        b.push(type_id);
        b.extend_from_slice(&stream_id.to_le_bytes());
        b.extend_from_slice(&[0u8; 10]);
        b
    };
    let mut c = Client::new(SessionConfig::default());
    let err = c
        .session
        .handle_input(
            &announce(1 << 20, msg_type::COMMAND_AMF0, 0),
            &mut BytesMut::new(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            RtmpError::MessageTooLarge {
                len: 1_048_576,
                max: 65_536,
                ..
            }
        ),
        "{err}"
    );

    // Connected but not publishing (a player): still 64 KiB.
    let mut c = Client::connected();
    let err = c
        .session
        .handle_input(
            &announce(100_000, msg_type::COMMAND_AMF0, 0),
            &mut BytesMut::new(),
        )
        .unwrap_err();
    assert!(
        matches!(err, RtmpError::MessageTooLarge { max: 65_536, .. }),
        "{err}"
    );

    // Publishing: a 1 MiB keyframe is fine.
    let mut c = Client::publishing();
    c.session.accept_publish(1, &mut BytesMut::new());
    let mut frame = vec![0x17, 1, 0, 0, 0];
    frame.resize(1 << 20, 0xAB);
    let ev = c.send(msg_type::VIDEO, 1, 40, &frame);
    assert!(
        ev.iter().any(|e| matches!(e, SessionEvent::Video { .. })),
        "{ev:?}"
    );
}

/// A client that sends a large keyframe right behind `publish`, without waiting for the
/// answer: the session stops after the request, so the frame is read under the limits the
/// answer sets (without the stop it would hit the 64 KiB pre-publish limit).
#[test]
fn media_pipelined_behind_publish_waits_for_the_answer() {
    let mut c = Client::connected();
    c.command(0, &[string("createStream"), num(2.0), Amf0Value::Null]);
    let chunked = |type_id: u8, csid: u32, body: &[u8]| {
        let mut bytes = BytesMut::new();
        let header = MessageHeader {
            csid,
            timestamp: 0,
            type_id,
            stream_id: 1,
        };
        write_message(&mut bytes, &header, body, 128);
        bytes
    };
    let publish = encode_values(&[
        string("publish"),
        num(3.0),
        Amf0Value::Null,
        string("room1"),
        string("live"),
    ]);
    let mut frame = vec![0x17, 1, 0, 0, 0];
    frame.resize(200_000, 0xAB);
    let mut input = chunked(msg_type::COMMAND_AMF0, 3, &publish);
    input.extend_from_slice(&chunked(msg_type::VIDEO, 6, &frame));
    let ev = c.feed(&input);
    assert!(
        matches!(ev.as_slice(), [SessionEvent::PublishRequested { .. }]),
        "{ev:?}"
    );
    c.session.accept_publish(1, &mut BytesMut::new());
    let ev = c.session.process(&mut BytesMut::new()).unwrap();
    assert!(
        matches!(ev.as_slice(), [SessionEvent::Video { .. }]),
        "{ev:?}"
    );
}
