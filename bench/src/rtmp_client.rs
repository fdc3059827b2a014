//! A minimal RTMP client, enough to publish a stream and to play one: plain handshake,
//! `connect`, `createStream`, `publish` / `play`, Window Acknowledgement handling (nginx-rtmp
//! stops sending to a client that never acknowledges) and ping answers.
//!
//! Outgoing messages are chunked by `onair_shared::rtmp::write_message` and commands are
//! AMF0 from `onair_shared::amf0`; incoming chunks go through [`ChunkScanner`], which skips
//! media payloads. Reading queues replies (acks, pongs) in `out` instead of writing them,
//! so [`RtmpConn::read_events`] is cancel-safe inside `select!`; call [`RtmpConn::flush`]
//! after handling the events.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use bytes::{BufMut, BytesMut};
use onair_shared::amf0::{Amf0Value, decode_all, encode_value};
use onair_shared::rtmp::UserControl;
use onair_shared::rtmp::message::msg_type;
use onair_shared::rtmp::writer::{MessageHeader, write_message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::rtmp_chunks::{ChunkScanner, Raw};

const HANDSHAKE_SIZE: usize = 1536;
const CSID_CONTROL: u32 = 2;
const CSID_COMMAND: u32 = 3;
const CSID_AUDIO: u32 = 4;
const CSID_DATA: u32 = 5;
const CSID_VIDEO: u32 = 6;
const CSID_STREAM_COMMAND: u32 = 8;
/// Chunk size we announce as a publisher.
pub const PUBLISH_CHUNK_SIZE: u32 = 4096;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// `rtmp://host[:port]/app/name[?query]`, split the way ffmpeg and OBS split it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host as written (for `tcUrl`).
    pub host: String,
    /// Port, 1935 by default.
    pub port: u16,
    /// Application (first path segment).
    pub app: String,
    /// Stream name with its query (`room?key=…`), as `publish` / `play` carry it.
    pub name: String,
}

impl RtmpUrl {
    /// Parses an `rtmp://` URL.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("rtmp://")
            .ok_or_else(|| anyhow!("{url}: not an rtmp:// URL"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| anyhow!("{url}: expected rtmp://HOST[:PORT]/APP/NAME"))?;
        let (host, port) = crate::split_host_port(authority, 1935)
            .with_context(|| format!("{url}: bad host:port"))?;
        let (app, name) = path
            .split_once('/')
            .filter(|(app, name)| !app.is_empty() && !name.is_empty())
            .ok_or_else(|| anyhow!("{url}: expected rtmp://HOST[:PORT]/APP/NAME"))?;
        Ok(Self {
            host,
            port,
            app: app.to_string(),
            name: name.to_string(),
        })
    }

    /// `rtmp://host:port/app`.
    pub fn tc_url(&self) -> String {
        format!("rtmp://{}:{}/{}", self.host, self.port, self.app)
    }
}

/// What reading produced, besides the replies the connection handles itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An AMF0 command (`_result`, `onStatus`, …), decoded.
    Command {
        /// Message stream id.
        stream_id: u32,
        /// The values: name, transaction id, command object, arguments.
        values: Vec<Amf0Value>,
    },
    /// An audio/video message (payload skipped when the scanner skips media).
    Media {
        /// 8 audio, 9 video.
        type_id: u8,
        /// Timestamp, ms.
        timestamp: u32,
        /// Payload length.
        len: u32,
        /// First two payload bytes.
        first: [u8; 2],
    },
}

/// One RTMP connection, client side.
pub struct RtmpConn {
    stream: TcpStream,
    scanner: ChunkScanner,
    buf: Vec<u8>,
    filled: usize,
    raw: Vec<Raw>,
    /// Events read and not yet taken.
    pub events: Vec<Event>,
    out: BytesMut,
    out_chunk: u32,
    received: u64,
    acked: u64,
    window: u64,
}

/// Some bytes that differ between connections, for C1 (servers ignore them).
fn filler(len: usize) -> Vec<u8> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl RtmpConn {
    /// Connects and completes the plain handshake. `skip_media`: do not keep media payloads.
    pub async fn open(addr: SocketAddr, skip_media: bool, read_buf: usize) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(crate::connect_error)?;
        stream.set_nodelay(true)?;
        Self::handshake(stream, skip_media, read_buf).await
    }

    /// Completes the plain handshake on a connected socket.
    pub async fn handshake(
        mut stream: TcpStream,
        skip_media: bool,
        read_buf: usize,
    ) -> anyhow::Result<Self> {
        let mut c0c1 = Vec::with_capacity(1 + HANDSHAKE_SIZE);
        c0c1.push(3);
        c0c1.extend_from_slice(&[0; 8]); // time 0, zero version: the plain handshake
        c0c1.extend_from_slice(&filler(HANDSHAKE_SIZE - 8));
        stream.write_all(&c0c1).await?;
        let mut s0s1 = vec![0u8; 1 + HANDSHAKE_SIZE];
        stream
            .read_exact(&mut s0s1)
            .await
            .context("RTMP handshake (S0+S1)")?;
        if s0s1.first() != Some(&3) {
            bail!(
                "RTMP handshake: server version {:?}, expected 3",
                s0s1.first()
            );
        }
        stream.write_all(s0s1.get(1..).unwrap_or_default()).await?; // C2 echoes S1
        let mut s2 = vec![0u8; HANDSHAKE_SIZE];
        stream
            .read_exact(&mut s2)
            .await
            .context("RTMP handshake (S2)")?;
        Ok(Self {
            stream,
            scanner: ChunkScanner::new(skip_media),
            buf: vec![0; read_buf.max(4096)],
            filled: 0,
            raw: Vec::new(),
            events: Vec::new(),
            out: BytesMut::new(),
            out_chunk: 128,
            received: 0,
            acked: 0,
            window: 0,
        })
    }

    /// Bytes received since the handshake.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Reads once from the socket and scans it: commands and media land in `events`,
    /// control messages are handled (replies queued). Cancel-safe. Returns bytes read.
    pub async fn read_events(&mut self) -> anyhow::Result<usize> {
        let n = self
            .stream
            .read(self.buf.get_mut(self.filled..).unwrap_or_default())
            .await?;
        if n == 0 {
            bail!("closed by server");
        }
        self.filled += n;
        self.received += n as u64;
        let used = self.scanner.scan(
            self.buf.get(..self.filled).unwrap_or_default(),
            &mut self.raw,
        )?;
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        let mut raw = std::mem::take(&mut self.raw);
        for message in raw.drain(..) {
            self.handle(message)?;
        }
        self.raw = raw;
        if self.window > 0 && self.received - self.acked >= self.window {
            self.acked = self.received;
            let seq = (self.received as u32).to_be_bytes();
            self.control(msg_type::ACKNOWLEDGEMENT, &seq);
        }
        Ok(n)
    }

    fn handle(&mut self, message: Raw) -> anyhow::Result<()> {
        let (type_id, stream_id, payload) = match message {
            Raw::Media {
                type_id,
                timestamp,
                len,
                first,
            } => {
                self.events.push(Event::Media {
                    type_id,
                    timestamp,
                    len,
                    first,
                });
                return Ok(());
            }
            Raw::Message {
                type_id,
                stream_id,
                payload,
                ..
            } => (type_id, stream_id, payload),
        };
        match type_id {
            msg_type::WINDOW_ACK_SIZE => {
                let size = payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes);
                self.window = u64::from(size.unwrap_or(0));
            }
            msg_type::USER_CONTROL => {
                if let Ok(UserControl::PingRequest(t)) = UserControl::parse(&payload.into()) {
                    let pong = UserControl::PingResponse(t).to_bytes();
                    self.control(msg_type::USER_CONTROL, &pong);
                }
            }
            msg_type::COMMAND_AMF0 | msg_type::COMMAND_AMF3 => {
                let body = if type_id == msg_type::COMMAND_AMF3 {
                    payload.get(1..).unwrap_or_default()
                } else {
                    &payload
                };
                let values = decode_all(body).context("RTMP: bad AMF0 command from server")?;
                self.events.push(Event::Command { stream_id, values });
            }
            msg_type::AUDIO | msg_type::VIDEO => self.events.push(Event::Media {
                type_id,
                timestamp: 0,
                len: payload.len() as u32,
                first: [
                    payload.first().copied().unwrap_or(0),
                    payload.get(1).copied().unwrap_or(0),
                ],
            }),
            _ => {}
        }
        Ok(())
    }

    fn control(&mut self, type_id: u8, payload: &[u8]) {
        let header = MessageHeader {
            csid: CSID_CONTROL,
            timestamp: 0,
            type_id,
            stream_id: 0,
        };
        write_message(&mut self.out, &header, payload, self.out_chunk);
    }

    /// Writes whatever is queued.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    fn command(&mut self, csid: u32, stream_id: u32, values: &[Amf0Value]) {
        let mut payload = BytesMut::new();
        for v in values {
            encode_value(v, &mut payload);
        }
        let header = MessageHeader {
            csid,
            timestamp: 0,
            type_id: msg_type::COMMAND_AMF0,
            stream_id,
        };
        write_message(&mut self.out, &header, &payload, self.out_chunk);
    }

    /// Queues one media or data message.
    pub fn media(&mut self, type_id: u8, timestamp: u32, stream_id: u32, body: &[u8]) {
        let csid = match type_id {
            msg_type::AUDIO => CSID_AUDIO,
            msg_type::VIDEO => CSID_VIDEO,
            _ => CSID_DATA,
        };
        let header = MessageHeader {
            csid,
            timestamp,
            type_id,
            stream_id,
        };
        write_message(&mut self.out, &header, body, self.out_chunk);
    }

    /// Reads until `matches` accepts an event (other events are dropped).
    async fn wait_for<T>(
        &mut self,
        what: &str,
        mut matches: impl FnMut(&Event) -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT;
        loop {
            for event in std::mem::take(&mut self.events) {
                if let Some(found) = matches(&event)? {
                    return Ok(found);
                }
            }
            self.flush().await?;
            tokio::time::timeout_at(deadline, self.read_events())
                .await
                .map_err(|_| anyhow!("RTMP: no answer to {what} within {COMMAND_TIMEOUT:?}"))??;
        }
    }

    /// Sends `connect` for `url.app` and waits for its `_result`.
    pub async fn connect(&mut self, url: &RtmpUrl, publisher: bool) -> anyhow::Result<()> {
        let s = |v: &str| Amf0Value::String(v.to_string());
        let n = Amf0Value::Number;
        let mut props = vec![
            ("app".to_string(), s(&url.app)),
            ("tcUrl".to_string(), s(&url.tc_url())),
        ];
        if publisher {
            props.push(("type".into(), s("nonprivate")));
            props.push(("flashVer".into(), s("FMLE/3.0 (compatible; onair-bench)")));
        } else {
            props.push(("flashVer".into(), s("LNX 9,0,124,2")));
            props.push(("fpad".into(), Amf0Value::Boolean(false)));
            props.push(("capabilities".into(), n(15.0)));
            props.push(("audioCodecs".into(), n(3191.0)));
            props.push(("videoCodecs".into(), n(252.0)));
            props.push(("videoFunction".into(), n(1.0)));
        }
        self.command(
            CSID_COMMAND,
            0,
            &[s("connect"), n(1.0), Amf0Value::Object(props)],
        );
        self.wait_for("connect", |e| result_of(e, 1.0)).await?;
        Ok(())
    }

    /// `createStream`; returns the message stream id.
    async fn create_stream(&mut self, tx: f64) -> anyhow::Result<u32> {
        let s = Amf0Value::String("createStream".into());
        self.command(
            CSID_COMMAND,
            0,
            &[s, Amf0Value::Number(tx), Amf0Value::Null],
        );
        let values = self.wait_for("createStream", |e| result_of(e, tx)).await?;
        let id = values.get(3).and_then(Amf0Value::as_number);
        Ok(id.map_or(1, |id| id as u32))
    }

    /// Announces our chunk size, then `releaseStream`, `FCPublish`, `createStream` and
    /// `publish` (live); waits for `NetStream.Publish.Start`. Returns the stream id.
    pub async fn publish(&mut self, url: &RtmpUrl) -> anyhow::Result<u32> {
        let size = PUBLISH_CHUNK_SIZE.to_be_bytes();
        self.control(msg_type::SET_CHUNK_SIZE, &size);
        self.out_chunk = PUBLISH_CHUNK_SIZE;
        let s = |v: &str| Amf0Value::String(v.to_string());
        let n = Amf0Value::Number;
        self.command(
            CSID_COMMAND,
            0,
            &[s("releaseStream"), n(2.0), Amf0Value::Null, s(&url.name)],
        );
        self.command(
            CSID_COMMAND,
            0,
            &[s("FCPublish"), n(3.0), Amf0Value::Null, s(&url.name)],
        );
        let id = self.create_stream(4.0).await?;
        self.command(
            CSID_STREAM_COMMAND,
            id,
            &[
                s("publish"),
                n(5.0),
                Amf0Value::Null,
                s(&url.name),
                s("live"),
            ],
        );
        self.wait_for("publish", |e| status_is(e, "NetStream.Publish.Start"))
            .await?;
        Ok(id)
    }

    /// `createStream`, Set Buffer Length and `play` (live). Does not wait for the status:
    /// media may come first, and an error status shows up in the events.
    pub async fn play(&mut self, url: &RtmpUrl) -> anyhow::Result<u32> {
        let id = self.create_stream(2.0).await?;
        let buffer = UserControl::SetBufferLength {
            stream_id: id,
            millis: 1000,
        };
        self.control(msg_type::USER_CONTROL, &buffer.to_bytes());
        let s = |v: &str| Amf0Value::String(v.to_string());
        self.command(
            CSID_STREAM_COMMAND,
            id,
            &[
                s("play"),
                Amf0Value::Number(3.0),
                Amf0Value::Null,
                s(&url.name),
                Amf0Value::Number(-2000.0),
            ],
        );
        self.flush().await?;
        Ok(id)
    }
}

/// The values of the `_result` for transaction `tx`; an error for its `_error`.
fn result_of(event: &Event, tx: f64) -> anyhow::Result<Option<Vec<Amf0Value>>> {
    let Event::Command { values, .. } = event else {
        return Ok(None);
    };
    let name = values.first().and_then(Amf0Value::as_str);
    let id = values.get(1).and_then(Amf0Value::as_number);
    match (name, id) {
        (Some("_result"), Some(id)) if id == tx => Ok(Some(values.clone())),
        (Some("_error"), Some(id)) if id == tx => bail!("RTMP: {}", describe(values)),
        _ => Ok(None),
    }
}

/// `Some(())` on an `onStatus` with `code`; an error on any error-level status.
fn status_is(event: &Event, code: &str) -> anyhow::Result<Option<()>> {
    if let Some(err) = error_status(event) {
        bail!("RTMP: {err}");
    }
    let Event::Command { values, .. } = event else {
        return Ok(None);
    };
    let info = values.get(3);
    let found = info.and_then(|i| i.get("code")).and_then(Amf0Value::as_str) == Some(code);
    Ok(found.then_some(()))
}

/// The code and description of an error-level `onStatus` or an `_error`, if `event` is one.
pub fn error_status(event: &Event) -> Option<String> {
    let Event::Command { values, .. } = event else {
        return None;
    };
    let name = values.first().and_then(Amf0Value::as_str)?;
    let info = values.get(3);
    let level = info
        .and_then(|i| i.get("level"))
        .and_then(Amf0Value::as_str);
    (name == "_error" || (name == "onStatus" && level == Some("error"))).then(|| describe(values))
}

fn describe(values: &[Amf0Value]) -> String {
    let info = values.get(3);
    let field = |k| {
        info.and_then(|i| i.get(k))
            .and_then(Amf0Value::as_str)
            .unwrap_or("")
    };
    format!("{} {}", field("code"), field("description"))
        .trim()
        .to_string()
}

/// Builds the `@setDataFrame` data message body for a script tag body (`onMetaData`, …).
pub fn set_data_frame(script_body: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(16 + script_body.len());
    encode_value(&Amf0Value::String("@setDataFrame".into()), &mut out);
    out.put_slice(script_body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_like_ffmpeg() {
        let u = RtmpUrl::parse("rtmp://127.0.0.1/live/room?key=k").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.app.as_str()),
            ("127.0.0.1", 1935, "live")
        );
        assert_eq!(u.name, "room?key=k");
        assert_eq!(u.tc_url(), "rtmp://127.0.0.1:1935/live");
        let u = RtmpUrl::parse("rtmp://localhost:1936/app/a").unwrap();
        assert_eq!(u.port, 1936);
        assert!(RtmpUrl::parse("rtmp://h/app").is_err());
        assert!(RtmpUrl::parse("http://h/app/x").is_err());
    }

    #[test]
    fn error_statuses_are_recognised() {
        let status = |level: &str| Event::Command {
            stream_id: 1,
            values: vec![
                Amf0Value::String("onStatus".into()),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
                Amf0Value::Object(vec![
                    ("level".into(), Amf0Value::String(level.into())),
                    (
                        "code".into(),
                        Amf0Value::String("NetStream.Play.StreamNotFound".into()),
                    ),
                ]),
            ],
        };
        assert_eq!(
            error_status(&status("error")).as_deref(),
            Some("NetStream.Play.StreamNotFound")
        );
        assert_eq!(error_status(&status("status")), None);
        assert!(status_is(&status("error"), "x").is_err());
    }
}
