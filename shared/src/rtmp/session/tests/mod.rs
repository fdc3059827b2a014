//! Unit tests of [`ServerSession`], driven by a hand-written client.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::amf0::{Amf0Value, decode_all};
use crate::rtmp::command::{encode_values, object, string};
use crate::rtmp::handshake::HANDSHAKE_SIZE;
use crate::rtmp::writer::{MessageHeader, write_message};

mod limits;

/// The client side of a test: chunks what it sends at 128 bytes and reads what the
/// session writes back.
struct Client {
    session: ServerSession,
    reader: ChunkReader,
    received: BytesMut,
}

fn num(n: f64) -> Amf0Value {
    Amf0Value::Number(n)
}

impl Client {
    fn new(config: SessionConfig) -> Self {
        let mut session = ServerSession::new(config, &[7; HANDSHAKE_RANDOM_LEN]);
        let mut out = BytesMut::new();
        let mut c0c1c2 = vec![3u8];
        c0c1c2.extend(std::iter::repeat_n(0u8, 2 * HANDSHAKE_SIZE));
        assert!(session.handle_input(&c0c1c2, &mut out).unwrap().is_empty());
        assert!(session.handshake_done());
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        Self {
            session,
            reader: ChunkReader::new(ReaderLimits::default()),
            received: BytesMut::new(),
        }
    }

    fn connected() -> Self {
        let mut c = Self::new(SessionConfig::default());
        let connect = object(vec![
            ("app", string("live/")),
            ("tcUrl", string("rtmp://localhost/live")),
            ("objectEncoding", num(0.0)),
        ]);
        let ev = c.command(0, &[string("connect"), num(1.0), connect]);
        assert_eq!(
            ev,
            vec![SessionEvent::Connected {
                app: "live".into(),
                tc_url: Some("rtmp://localhost/live".into())
            }]
        );
        c
    }

    fn feed(&mut self, bytes: &[u8]) -> Vec<SessionEvent> {
        let mut out = BytesMut::new();
        let ev = self.session.handle_input(bytes, &mut out).unwrap();
        self.received.extend_from_slice(&out);
        ev
    }

    fn send(
        &mut self,
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        body: &[u8],
    ) -> Vec<SessionEvent> {
        let mut bytes = BytesMut::new();
        let csid = if type_id == msg_type::VIDEO { 6 } else { 3 };
        let header = MessageHeader {
            csid,
            timestamp,
            type_id,
            stream_id,
        };
        write_message(&mut bytes, &header, body, 128);
        self.feed(&bytes)
    }

    fn command(&mut self, stream_id: u32, values: &[Amf0Value]) -> Vec<SessionEvent> {
        self.send(msg_type::COMMAND_AMF0, stream_id, 0, &encode_values(values))
    }

    /// Everything the session wrote since the last call, as messages.
    fn replies(&mut self) -> Vec<RtmpMessage> {
        let mut msgs = Vec::new();
        while let Some(m) = self.reader.read_message(&mut self.received).unwrap() {
            msgs.push(m);
        }
        assert!(self.received.is_empty());
        msgs
    }

    /// The command / status names and `code`s the session wrote since the last call.
    fn reply_codes(&mut self) -> Vec<String> {
        self.replies()
            .iter()
            .map(|m| match m.type_id {
                msg_type::COMMAND_AMF0 | msg_type::DATA_AMF0 => {
                    let v = decode_all(&m.payload).unwrap();
                    let code = v
                        .iter()
                        .find_map(|x| x.get("code"))
                        .and_then(Amf0Value::as_str);
                    let name = v[0].as_str().unwrap_or_default();
                    code.map_or(name.to_owned(), |c| format!("{name} {c}"))
                }
                msg_type::USER_CONTROL => {
                    format!("uc {:?}", UserControl::parse(&m.payload).unwrap())
                }
                t => format!("type {t}"),
            })
            .collect()
    }

    fn publishing() -> Self {
        let mut c = Self::connected();
        c.replies();
        c.command(
            0,
            &[
                string("releaseStream"),
                num(2.0),
                Amf0Value::Null,
                string("room1"),
            ],
        );
        c.command(
            0,
            &[
                string("FCPublish"),
                num(3.0),
                Amf0Value::Null,
                string("room1"),
            ],
        );
        c.command(0, &[string("createStream"), num(4.0), Amf0Value::Null]);
        let created = c.replies();
        let v = decode_all(&created[2].payload).unwrap();
        assert_eq!(
            v,
            vec![string("_result"), num(4.0), Amf0Value::Null, num(1.0)]
        );
        let ev = c.command(
            1,
            &[
                string("publish"),
                num(5.0),
                Amf0Value::Null,
                string("room1?key=abc"),
                string("live"),
            ],
        );
        assert_eq!(
            ev,
            vec![SessionEvent::PublishRequested {
                stream_id: 1,
                name: "room1?key=abc".into(),
                publish_type: "live".into()
            }]
        );
        c
    }
}

#[test]
fn connect_answers_like_nginx_rtmp() {
    let mut c = Client::connected();
    let msgs = c.replies();
    let types: Vec<_> = msgs.iter().map(|m| m.type_id).collect();
    assert_eq!(types, vec![5, 6, 1, 20]);
    assert_eq!(&msgs[0].payload[..], &2_500_000u32.to_be_bytes());
    assert_eq!(&msgs[1].payload[..], &[0, 0x26, 0x25, 0xA0, 2]);
    assert_eq!(&msgs[2].payload[..], &4096u32.to_be_bytes());
    assert_eq!(c.session.chunk_size(), 4096);
    let v = decode_all(&msgs[3].payload).unwrap();
    assert_eq!(v[0].as_str(), Some("_result"));
    assert_eq!(v[1].as_number(), Some(1.0));
    assert_eq!(
        v[3].get("code").unwrap().as_str(),
        Some("NetConnection.Connect.Success")
    );
}

#[test]
fn publish_flow() {
    let mut c = Client::publishing();
    // Media before the application accepted is dropped.
    assert!(c.send(msg_type::VIDEO, 1, 0, &[0x17, 0]).is_empty());
    let mut out = BytesMut::new();
    c.session.accept_publish(1, &mut out);
    c.received.extend_from_slice(&out);
    assert_eq!(
        c.reply_codes(),
        vec![
            "onFCPublish NetStream.Publish.Start",
            "onStatus NetStream.Publish.Start"
        ]
    );
    let mut again = BytesMut::new();
    c.session.accept_publish(1, &mut again);
    assert!(again.is_empty(), "accepting twice writes nothing");

    let meta = encode_values(&[
        string("@setDataFrame"),
        string("onMetaData"),
        Amf0Value::EcmaArray(vec![("width".into(), num(320.0))]),
    ]);
    let ev = c.send(msg_type::DATA_AMF0, 1, 0, &meta);
    assert_eq!(
        ev,
        vec![SessionEvent::Script {
            stream_id: 1,
            timestamp: 0,
            data: meta.clone()
        }]
    );
    // What ingest makes of it: the wrapper cut off, the values typed.
    let SessionEvent::Script { data, .. } = &ev[0] else {
        unreachable!()
    };
    let script = crate::media::Script::parse(data).unwrap();
    assert_eq!(
        script.value,
        crate::media::script::ScriptValue::Metadata(vec![Amf0Value::EcmaArray(vec![(
            "width".into(),
            num(320.0)
        )])])
    );
    let video = vec![0x17u8; 300];
    let ev = c.send(msg_type::VIDEO, 1, 40, &video);
    assert_eq!(
        ev,
        vec![SessionEvent::Video {
            stream_id: 1,
            timestamp: 40,
            data: Bytes::from(video)
        }]
    );
    let ev = c.send(msg_type::AUDIO, 1, 41, &[0xAF, 1, 2]);
    assert!(matches!(
        &ev[..],
        [SessionEvent::Audio { timestamp: 41, .. }]
    ));

    let ev = c.command(
        0,
        &[
            string("FCUnpublish"),
            num(6.0),
            Amf0Value::Null,
            string("room1?key=abc"),
        ],
    );
    assert_eq!(ev, vec![SessionEvent::Unpublish { stream_id: 1 }]);
    assert_eq!(
        c.reply_codes(),
        vec!["onFCUnpublish NetStream.Unpublish.Success", "_result"]
    );
    let ev = c.command(
        0,
        &[string("deleteStream"), num(0.0), Amf0Value::Null, num(1.0)],
    );
    assert_eq!(ev, vec![SessionEvent::DeleteStream { stream_id: 1 }]);
    // Media after the unpublish is dropped again.
    assert!(c.send(msg_type::VIDEO, 1, 80, &[0x27, 1]).is_empty());
}

#[test]
fn reject_publish_sends_an_error_status() {
    let mut c = Client::publishing();
    c.replies();
    let mut out = BytesMut::new();
    c.session.reject_publish(
        1,
        "NetStream.Publish.BadName",
        "room1 is already live",
        &mut out,
    );
    c.received.extend_from_slice(&out);
    let msgs = c.replies();
    let v = decode_all(&msgs[0].payload).unwrap();
    assert_eq!(msgs[0].stream_id, 1);
    assert_eq!(v[3].get("level").unwrap().as_str(), Some("error"));
    assert_eq!(
        v[3].get("code").unwrap().as_str(),
        Some("NetStream.Publish.BadName")
    );
    assert_eq!(
        v[3].get("description").unwrap().as_str(),
        Some("room1 is already live")
    );
    assert!(c.send(msg_type::VIDEO, 1, 0, &[0x17, 0]).is_empty());
}

#[test]
fn play_flow_and_stream_eof() {
    let mut c = Client::connected();
    c.command(0, &[string("createStream"), num(2.0), Amf0Value::Null]);
    c.command(
        0,
        &[
            string("getStreamLength"),
            num(3.0),
            Amf0Value::Null,
            string("room1"),
        ],
    );
    c.replies();
    let ev = c.command(
        1,
        &[
            string("play"),
            num(4.0),
            Amf0Value::Null,
            string("room1"),
            num(-2000.0),
        ],
    );
    assert_eq!(
        ev,
        vec![SessionEvent::PlayRequested {
            stream_id: 1,
            name: "room1".into()
        }]
    );
    let mut out = BytesMut::new();
    c.session.accept_play(1, &mut out);
    c.received.extend_from_slice(&out);
    assert_eq!(
        c.reply_codes(),
        vec![
            "uc StreamBegin(1)",
            "onStatus NetStream.Play.Reset",
            "onStatus NetStream.Play.Start",
            "|RtmpSampleAccess",
            "onStatus NetStream.Data.Start"
        ]
    );
    let mut out = BytesMut::new();
    c.session.send_stream_eof(1, &mut out);
    c.received.extend_from_slice(&out);
    assert_eq!(
        c.reply_codes(),
        vec![
            "uc StreamEof(1)",
            "onStatus NetStream.Play.UnpublishNotify",
            "onStatus NetStream.Play.Stop"
        ]
    );
    let ev = c.command(1, &[string("closeStream"), num(0.0), Amf0Value::Null]);
    assert_eq!(
        ev,
        vec![
            SessionEvent::StopPlay { stream_id: 1 },
            SessionEvent::CloseStream { stream_id: 1 }
        ]
    );
}

#[test]
fn reject_play_not_found() {
    let mut c = Client::connected();
    c.command(0, &[string("createStream"), num(2.0), Amf0Value::Null]);
    c.command(
        1,
        &[string("play"), num(0.0), Amf0Value::Null, string("nope")],
    );
    c.replies();
    let mut out = BytesMut::new();
    c.session.reject_play(
        1,
        "NetStream.Play.StreamNotFound",
        "No such stream.",
        &mut out,
    );
    c.received.extend_from_slice(&out);
    assert_eq!(
        c.reply_codes(),
        vec!["onStatus NetStream.Play.StreamNotFound"]
    );
}

#[test]
fn ping_both_ways() {
    let mut c = Client::connected();
    c.replies();
    let ev = c.send(
        msg_type::USER_CONTROL,
        0,
        0,
        &UserControl::PingRequest(1234).to_bytes(),
    );
    assert!(ev.is_empty());
    assert_eq!(c.reply_codes(), vec!["uc PingResponse(1234)"]);
    let mut out = BytesMut::new();
    c.session.send_ping(99, &mut out);
    c.received.extend_from_slice(&out);
    assert_eq!(c.reply_codes(), vec!["uc PingRequest(99)"]);
    let ev = c.send(
        msg_type::USER_CONTROL,
        0,
        0,
        &UserControl::PingResponse(99).to_bytes(),
    );
    assert_eq!(ev, vec![SessionEvent::Pong { timestamp: 99 }]);
}

#[test]
fn acknowledgement_when_the_window_is_crossed() {
    let mut c = Client::connected();
    c.replies();
    c.send(msg_type::WINDOW_ACK_SIZE, 0, 0, &1000u32.to_be_bytes());
    let ack = |m: &RtmpMessage| {
        assert_eq!(m.type_id, msg_type::ACKNOWLEDGEMENT);
        u64::from(u32::from_be_bytes(m.payload[..4].try_into().unwrap()))
    };
    // The handshake and connect (> 3000 bytes) were counted before the window was known,
    // so the first ack goes out at once, with everything received so far.
    let first: Vec<_> = c.replies().iter().map(ack).collect();
    assert_eq!(first, vec![c.session.bytes_received()]);
    let mut acks = Vec::new();
    for _ in 0..10 {
        c.send(msg_type::AUDIO, 1, 0, &[0u8; 100]); // 112 bytes on the wire
        acks.extend(c.replies().iter().map(ack));
    }
    assert_eq!(acks, vec![first[0] + 9 * 112]);
    let ev = c.send(msg_type::ACKNOWLEDGEMENT, 0, 0, &5000u32.to_be_bytes());
    assert_eq!(ev, vec![SessionEvent::Acknowledgement { sequence: 5000 }]);
}

#[test]
fn unknown_commands() {
    let mut c = Client::connected();
    c.replies();
    assert!(
        c.command(0, &[string("fooBar"), num(0.0), Amf0Value::Null])
            .is_empty()
    );
    assert!(c.replies().is_empty());
    c.command(0, &[string("fooBar"), num(7.0), Amf0Value::Null]);
    let msgs = c.replies();
    let v = decode_all(&msgs[0].payload).unwrap();
    assert_eq!(v[0].as_str(), Some("_error"));
    assert_eq!(v[1].as_number(), Some(7.0));
    assert_eq!(
        v[3].get("code").unwrap().as_str(),
        Some("NetConnection.Call.Failed")
    );
}

#[test]
fn amf3_command_and_bad_amf() {
    let mut c = Client::new(SessionConfig::default());
    let mut body = vec![0u8];
    body.extend_from_slice(&encode_values(&[
        string("connect"),
        num(1.0),
        object(vec![("app", string("live"))]),
    ]));
    let ev = c.send(msg_type::COMMAND_AMF3, 0, 0, &body);
    assert!(matches!(&ev[..], [SessionEvent::Connected { app, tc_url: None }] if app == "live"));
    let mut bad = encode_values(&[string("createStream"), num(2.0)]).to_vec();
    bad.push(0x42); // not an AMF0 type marker
    let mut bytes = BytesMut::new();
    let header = MessageHeader {
        csid: 3,
        timestamp: 0,
        type_id: msg_type::COMMAND_AMF0,
        stream_id: 0,
    };
    write_message(&mut bytes, &header, &bad, 128);
    let err = c
        .session
        .handle_input(&bytes, &mut BytesMut::new())
        .unwrap_err();
    assert!(matches!(err, RtmpError::Amf0(_)), "{err}");
}

#[test]
fn aggregate_messages_are_split() {
    let mut c = Client::publishing();
    c.session.accept_publish(1, &mut BytesMut::new());
    let mut agg = BytesMut::new();
    for (type_id, ts, data) in [
        (9u8, 1000u32, &[0x17u8, 1][..]),
        (8, 1010, &[0xAF, 1, 5][..]),
    ] {
        agg.put_u8(type_id);
        agg.put_uint(data.len() as u64, 3);
        agg.put_uint(u64::from(ts & 0xFF_FFFF), 3);
        agg.put_u8((ts >> 24) as u8);
        agg.put_uint(0, 3);
        agg.put_slice(data);
        agg.put_u32(11 + data.len() as u32);
    }
    let ev = c.send(msg_type::AGGREGATE, 1, 500, &agg);
    assert_eq!(
        ev,
        vec![
            SessionEvent::Video {
                stream_id: 1,
                timestamp: 500,
                data: Bytes::from_static(&[0x17, 1])
            },
            SessionEvent::Audio {
                stream_id: 1,
                timestamp: 510,
                data: Bytes::from_static(&[0xAF, 1, 5])
            },
        ]
    );
}

#[test]
fn bytewise_input_gives_the_same_events() {
    let mut whole = Client::publishing();
    whole.session.accept_publish(1, &mut BytesMut::new());
    let mut stream = BytesMut::new();
    let header = MessageHeader {
        csid: 6,
        timestamp: 33,
        type_id: 9,
        stream_id: 1,
    };
    write_message(&mut stream, &header, &[9u8; 1000], 128);
    let expected = whole.feed(&stream);
    assert_eq!(expected.len(), 1);
    let mut bytewise = Client::publishing();
    bytewise.session.accept_publish(1, &mut BytesMut::new());
    let got: Vec<_> = stream.iter().flat_map(|b| bytewise.feed(&[*b])).collect();
    assert_eq!(got, expected);
}
