//! Property tests: arbitrary messages → chunk writer → chunk reader fed at random splits
//! gives back the same messages. Two writers: the crate's self-contained one (type-0 +
//! type-3 continuations), and a header-compressing one written here the way ffmpeg's
//! `ff_rtmp_packet_write` picks header types 0–3, with chunks of different chunk streams
//! interleaved.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};
use onair_shared::rtmp::message::msg_type;
use onair_shared::rtmp::writer::{MessageHeader, write_message};
use onair_shared::rtmp::{ChunkReader, ReaderLimits, RtmpMessage};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Msg {
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: Vec<u8>,
}

fn basic_header(out: &mut Vec<u8>, fmt: u8, csid: u32) {
    match csid {
        2..=63 => out.push((fmt << 6) | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt << 6, (csid - 64) as u8]),
        _ => out.extend_from_slice(&[
            (fmt << 6) | 1,
            ((csid - 64) & 0xFF) as u8,
            ((csid - 64) >> 8) as u8,
        ]),
    }
}

#[derive(Clone, Copy)]
struct Last {
    timestamp: u32,
    ts_field: u32,
    len: usize,
    type_id: u8,
    stream_id: u32,
}

/// Chunks one message with header compression, as a list of chunks.
fn compressed_chunks(m: &Msg, chunk_size: usize, state: &mut HashMap<u32, Last>) -> Vec<Vec<u8>> {
    let prev = state.get(&m.csid).copied();
    let (fmt, ts_field) = match prev {
        Some(p) if p.stream_id == m.stream_id && m.timestamp >= p.timestamp => {
            let delta = m.timestamp - p.timestamp;
            if p.len != m.payload.len() || p.type_id != m.type_id {
                (1, delta)
            } else if delta != p.ts_field {
                (2, delta)
            } else {
                (3, delta)
            }
        }
        _ => (0, m.timestamp),
    };
    let ext = ts_field >= 0xFF_FFFF;
    let mut first = Vec::new();
    basic_header(&mut first, fmt, m.csid);
    if fmt <= 2 {
        first.extend_from_slice(&ts_field.min(0xFF_FFFF).to_be_bytes()[1..]);
    }
    if fmt <= 1 {
        first.extend_from_slice(&(m.payload.len() as u32).to_be_bytes()[1..]);
        first.push(m.type_id);
    }
    if fmt == 0 {
        first.extend_from_slice(&m.stream_id.to_le_bytes());
    }
    if ext {
        first.extend_from_slice(&ts_field.to_be_bytes());
    }
    let mut chunks = vec![first];
    for (i, piece) in m.payload.chunks(chunk_size).enumerate() {
        if i > 0 {
            let mut c = Vec::new();
            basic_header(&mut c, 3, m.csid);
            if ext {
                c.extend_from_slice(&ts_field.to_be_bytes());
            }
            chunks.push(c);
        }
        chunks.last_mut().unwrap().extend_from_slice(piece);
    }
    state.insert(
        m.csid,
        Last {
            timestamp: m.timestamp,
            ts_field,
            len: m.payload.len(),
            type_id: m.type_id,
            stream_id: m.stream_id,
        },
    );
    chunks
}

fn set_chunk_size(chunk_size: u32) -> BytesMut {
    let mut out = BytesMut::new();
    let header = MessageHeader {
        csid: 2,
        timestamp: 0,
        type_id: msg_type::SET_CHUNK_SIZE,
        stream_id: 0,
    };
    write_message(&mut out, &header, &chunk_size.to_be_bytes(), 128);
    out
}

/// Feeds `bytes` to a reader in pieces of the given sizes (cycled) and collects messages.
fn read_split(bytes: &[u8], splits: &[usize]) -> Vec<RtmpMessage> {
    let mut reader = ChunkReader::new(ReaderLimits::default());
    let mut input = BytesMut::new();
    let mut got = Vec::new();
    let mut pos = 0;
    for &n in splits.iter().cycle() {
        let end = (pos + n).min(bytes.len());
        input.put_slice(&bytes[pos..end]);
        pos = end;
        while let Some(m) = reader.read_message(&mut input).unwrap() {
            if m.type_id != msg_type::SET_CHUNK_SIZE {
                got.push(m);
            }
        }
        if pos == bytes.len() {
            break;
        }
    }
    assert!(input.is_empty(), "{} bytes left over", input.len());
    got
}

fn same(got: &[RtmpMessage], want: &[&Msg]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (g.csid, g.timestamp, g.type_id, g.stream_id, &g.payload[..]),
            (w.csid, w.timestamp, w.type_id, w.stream_id, &w.payload[..])
        );
    }
}

/// Messages whose timestamps grow per chunk stream, sometimes past the 24-bit field.
fn messages() -> impl Strategy<Value = Vec<Msg>> {
    let one = (
        prop::sample::select(vec![3u32, 4, 6, 63, 64, 319, 320, 65_599]),
        prop_oneof![4 => 0u32..100, 1 => Just(0x0100_0000u32), 1 => any::<u32>()],
        prop::sample::select(vec![8u8, 9, 18, 20]),
        prop_oneof![3 => Just(1u32), 1 => any::<u32>()],
        prop_oneof![3 => prop::collection::vec(any::<u8>(), 0..300), 1 => prop::collection::vec(any::<u8>(), 0..3000)],
    );
    prop::collection::vec(one, 1..40).prop_map(|raw| {
        let mut clock: HashMap<u32, u32> = HashMap::new();
        raw.into_iter()
            .map(|(csid, delta, type_id, stream_id, payload)| {
                let t = clock.entry(csid).or_insert(0);
                *t = t.wrapping_add(delta);
                Msg {
                    csid,
                    timestamp: *t,
                    type_id,
                    stream_id,
                    payload,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn self_contained_writer_round_trips(
        msgs in messages(),
        chunk_size in prop_oneof![Just(128u32), 1u32..300, 300u32..70_000],
        splits in prop::collection::vec(1usize..2000, 1..20),
    ) {
        let chunk_size = chunk_size.min(65_536);
        let mut bytes = set_chunk_size(chunk_size);
        for m in &msgs {
            let header = MessageHeader { csid: m.csid, timestamp: m.timestamp, type_id: m.type_id, stream_id: m.stream_id };
            write_message(&mut bytes, &header, &m.payload, chunk_size);
        }
        let got = read_split(&bytes, &splits);
        same(&got, &msgs.iter().collect::<Vec<_>>());
    }

    #[test]
    fn compressed_interleaved_chunks_round_trip(
        msgs in messages(),
        chunk_size in 1u32..1000,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..50),
        splits in prop::collection::vec(1usize..500, 1..20),
    ) {
        // Chunk each message, then interleave the chunk queues of the chunk streams.
        // A chunk stream's next message only starts after its previous one ended.
        let mut state = HashMap::new();
        let mut queues: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
        for m in &msgs {
            let chunks = compressed_chunks(m, chunk_size as usize, &mut state);
            match queues.iter_mut().find(|(c, _)| *c == m.csid) {
                Some((_, q)) => q.extend(chunks),
                None => queues.push((m.csid, chunks)),
            }
        }
        let mut bytes = set_chunk_size(chunk_size).to_vec();
        let mut i = 0;
        while queues.iter().any(|(_, q)| !q.is_empty()) {
            let live: Vec<usize> = (0..queues.len()).filter(|&k| !queues[k].1.is_empty()).collect();
            let k = live[picks[i % picks.len()].index(live.len())];
            i += 1;
            let chunk = queues[k].1.remove(0);
            bytes.extend_from_slice(&chunk);
        }
        let got = read_split(&bytes, &splits);
        // Compare per chunk stream: interleaving changes the order across streams only.
        for csid in msgs.iter().map(|m| m.csid) {
            let want: Vec<&Msg> = msgs.iter().filter(|m| m.csid == csid).collect();
            let got_c: Vec<RtmpMessage> = got.iter().filter(|m| m.csid == csid).cloned().collect();
            same(&got_c, &want);
        }
        prop_assert_eq!(got.len(), msgs.len());
    }
}
