//! AMF0 command messages: parsing what clients send, building what we answer.
//!
//! A command is `name, transaction id, command object, args…` encoded as consecutive AMF0
//! values. The replies mirror what nginx-rtmp and SRS send, since that is what OBS, ffmpeg,
//! GStreamer and librtmp-based players have been tested against.

use bytes::{Bytes, BytesMut};

use super::RtmpError;
use crate::amf0::{Amf0Value, decode_value, encode_all};

/// The `fmsVer` we announce in the `connect` result (FMS-compatible, as nginx-rtmp does).
pub const FMS_VERSION: &str = "FMS/3,0,1,123";

/// One decoded command message.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Command name (`connect`, `publish`, …).
    pub name: String,
    /// Transaction id; 0 means the sender expects no reply.
    pub transaction_id: f64,
    /// Command object (`Null` for most commands except `connect`).
    pub command_object: Amf0Value,
    /// The remaining arguments.
    pub args: Vec<Amf0Value>,
}

impl Command {
    /// Decodes a command from an AMF0 message body (for type 17 the caller strips the
    /// leading format byte first). Unknown or unsupported AMF0 types are an error.
    pub fn parse(payload: &[u8]) -> Result<Self, RtmpError> {
        let mut buf = payload;
        let name = match decode_value(&mut buf)? {
            Amf0Value::String(s) | Amf0Value::LongString(s) => s,
            _ => {
                return Err(RtmpError::BadCommand {
                    command: String::new(),
                    reason: "the first value is not a string",
                });
            }
        };
        // Be lenient about what follows the name: some clients omit trailing values.
        let mut rest = Vec::new();
        while !buf.is_empty() {
            rest.push(decode_value(&mut buf)?);
        }
        let mut rest = rest.into_iter();
        let transaction_id = match rest.next() {
            Some(Amf0Value::Number(n)) if n.is_finite() => n,
            None => 0.0,
            Some(_) => {
                return Err(RtmpError::BadCommand {
                    command: name,
                    reason: "the transaction id is not a number",
                });
            }
        };
        let command_object = rest.next().unwrap_or(Amf0Value::Null);
        Ok(Self {
            name,
            transaction_id,
            command_object,
            args: rest.collect(),
        })
    }

    /// The `i`-th argument after the command object as a string, if it is one.
    pub fn arg_str(&self, i: usize) -> Option<&str> {
        self.args.get(i).and_then(Amf0Value::as_str)
    }

    /// Encodes this command as an AMF0 message body.
    pub fn encode(&self) -> Bytes {
        let mut values = Vec::with_capacity(3 + self.args.len());
        values.push(Amf0Value::String(self.name.clone()));
        values.push(Amf0Value::Number(self.transaction_id));
        values.push(self.command_object.clone());
        values.extend(self.args.iter().cloned());
        encode_values(&values)
    }
}

/// Encodes consecutive AMF0 values as one message body.
pub fn encode_values(values: &[Amf0Value]) -> Bytes {
    let mut out = BytesMut::new();
    encode_all(values, &mut out);
    out.freeze()
}

/// A string value.
pub fn string(s: &str) -> Amf0Value {
    Amf0Value::String(s.to_owned())
}

/// An anonymous object from `(key, value)` pairs.
pub fn object(props: Vec<(&str, Amf0Value)>) -> Amf0Value {
    Amf0Value::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A NetStream/NetConnection status info object: `{level, code, description}`.
pub fn status_info(level: &str, code: &str, description: &str) -> Amf0Value {
    object(vec![
        ("level", string(level)),
        ("code", string(code)),
        ("description", string(description)),
    ])
}

/// `_result` (or `_error`) for `transaction_id` with the given command object and info.
pub fn reply(success: bool, transaction_id: f64, object: Amf0Value, info: Amf0Value) -> Bytes {
    let name = if success { "_result" } else { "_error" };
    encode_values(&[
        string(name),
        Amf0Value::Number(transaction_id),
        object,
        info,
    ])
}

/// The `_result` of `connect`: server properties and NetConnection.Connect.Success, with
/// the client's `objectEncoding` echoed (clients check it to pick AMF0 or AMF3).
pub fn connect_result(transaction_id: f64, object_encoding: f64) -> Bytes {
    let properties = object(vec![
        ("fmsVer", string(FMS_VERSION)),
        ("capabilities", Amf0Value::Number(31.0)),
        ("mode", Amf0Value::Number(1.0)),
    ]);
    let Amf0Value::Object(mut info) = status_info(
        "status",
        "NetConnection.Connect.Success",
        "Connection succeeded.",
    ) else {
        return Bytes::new();
    };
    info.push(("objectEncoding".into(), Amf0Value::Number(object_encoding)));
    reply(true, transaction_id, properties, Amf0Value::Object(info))
}

/// `onStatus(0, null, {level, code, description})`, sent on the stream's message stream.
pub fn on_status(level: &str, code: &str, description: &str) -> Bytes {
    encode_values(&[
        string("onStatus"),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        status_info(level, code, description),
    ])
}

/// `onFCPublish` / `onFCUnpublish(0, null, {code, description})`, as nginx-rtmp sends them.
pub fn on_fc(name: &str, code: &str, description: &str) -> Bytes {
    encode_values(&[
        string(name),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        object(vec![
            ("code", string(code)),
            ("description", string(description)),
        ]),
    ])
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::amf0::decode_all;

    #[test]
    fn parse_connect() {
        let body = encode_values(&[
            string("connect"),
            Amf0Value::Number(1.0),
            object(vec![
                ("app", string("live")),
                ("tcUrl", string("rtmp://h/live")),
            ]),
        ]);
        let c = Command::parse(&body).unwrap();
        assert_eq!(c.name, "connect");
        assert_eq!(c.transaction_id, 1.0);
        assert_eq!(c.command_object.get("app").unwrap().as_str(), Some("live"));
        assert!(c.args.is_empty());
        assert_eq!(Command::parse(&c.encode()).unwrap(), c);
    }

    #[test]
    fn parse_publish_with_args() {
        let body = encode_values(&[
            string("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            string("room1?key=abc"),
            string("live"),
        ]);
        let c = Command::parse(&body).unwrap();
        assert_eq!(c.arg_str(0), Some("room1?key=abc"));
        assert_eq!(c.arg_str(1), Some("live"));
        assert_eq!(c.arg_str(2), None);
    }

    #[test]
    fn bad_commands() {
        assert!(matches!(
            Command::parse(&encode_values(&[Amf0Value::Number(1.0)])),
            Err(RtmpError::BadCommand { .. })
        ));
        assert!(matches!(
            Command::parse(&encode_values(&[string("x"), string("y")])),
            Err(RtmpError::BadCommand { .. })
        ));
        // An AMF3 object marker (0x11) inside an AMF0 command is not accepted.
        let mut body = encode_values(&[string("connect"), Amf0Value::Number(1.0)]).to_vec();
        body.push(0x11);
        assert!(matches!(Command::parse(&body), Err(RtmpError::Amf0(_))));
        assert!(Command::parse(&[]).is_err());
        // A bare name is accepted, with transaction id 0.
        let c = Command::parse(&encode_values(&[string("pause")])).unwrap();
        assert_eq!((c.transaction_id, c.command_object), (0.0, Amf0Value::Null));
    }

    #[test]
    fn connect_result_shape() {
        let v = decode_all(&connect_result(1.0, 3.0)).unwrap();
        assert_eq!(v[0].as_str(), Some("_result"));
        assert_eq!(v[1].as_number(), Some(1.0));
        assert_eq!(v[2].get("fmsVer").unwrap().as_str(), Some(FMS_VERSION));
        assert_eq!(
            v[3].get("code").unwrap().as_str(),
            Some("NetConnection.Connect.Success")
        );
        assert_eq!(v[3].get("objectEncoding").unwrap().as_number(), Some(3.0));
    }

    #[test]
    fn on_status_shape() {
        let v = decode_all(&on_status("error", "NetStream.Publish.BadName", "taken")).unwrap();
        assert_eq!(v[0].as_str(), Some("onStatus"));
        assert_eq!(v[2], Amf0Value::Null);
        assert_eq!(v[3].get("level").unwrap().as_str(), Some("error"));
        assert_eq!(v[3].get("description").unwrap().as_str(), Some("taken"));
    }
}
