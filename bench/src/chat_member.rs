//! One chat member of `onair-bench chat`: connects to the room's chat WebSocket, joins, and
//! until the end of the run sends its share of the comments and likes on a fixed schedule
//! while reading everything the server fans out.
//!
//! Every member counts what it receives by type (a cheap prefix check of the JSON the
//! server writes `{"type": …` first). Only the *recorders*, a fixed subset spread over the
//! members, parse every message with [`ServerMessage`] and keep one latency sample per
//! comment; that keeps the bench light enough to share the cores with the server. A
//! comment's text is `t=<µs since the bench started>`, taken just before it is written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use onair_shared::chat::{ClientMessage, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Connect + WebSocket handshake + `welcome` must take less than this.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);

/// What every member shares: where to connect and the run's timeline.
#[derive(Debug)]
pub struct Plan {
    pub addr: SocketAddr,
    /// `ws://HOST:PORT/api/rooms/ID/chat`
    pub url: String,
    pub members: usize,
    /// Comments per second, all members together.
    pub comments: f64,
    /// Likes per second, all members together (one like per message).
    pub likes: f64,
    /// The bench's clock: comment timestamps count from here.
    pub start: Instant,
    /// Member `i` starts connecting at `join_start + i × join_step`.
    pub join_start: Instant,
    pub join_step: Duration,
    /// Comments and likes are sent in `[send_start, send_end)`.
    pub send_start: Instant,
    pub send_end: Instant,
    /// Members stay until here, so the last comments and like ticks arrive.
    pub end: Instant,
    /// Every `record_every`-th member is a recorder.
    pub record_every: usize,
}

impl Plan {
    fn micros(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// Messages received, by type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kinds {
    pub comment: u64,
    pub likes: u64,
    pub viewers: u64,
    pub other: u64,
}

impl Kinds {
    pub fn total(&self) -> u64 {
        self.comment + self.likes + self.viewers + self.other
    }

    pub fn add(&mut self, o: &Kinds) {
        self.comment += o.comment;
        self.likes += o.likes;
        self.viewers += o.viewers;
        self.other += o.other;
    }
}

/// What one member did and saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub recorder: bool,
    /// Got its `welcome`.
    pub joined: bool,
    /// Start of connect → `welcome`.
    pub join_ms: Option<f64>,
    /// Why it failed or left early (`None`: stayed to the end).
    pub error: Option<String>,
    /// When it failed, seconds since the bench started.
    pub failed_at_s: Option<f64>,
    pub comments_sent: u64,
    /// How late each comment left after its slot, ms: the bench's own scheduling delay.
    pub send_late_ms: Vec<f64>,
    pub likes_sent: u64,
    /// Messages received in `[send_start, send_end)`, by type.
    pub in_window: Kinds,
    /// Messages received from `welcome` to the end, by type.
    pub all: Kinds,
    /// Messages received before `send_start` (while members joined).
    pub before: u64,
    /// `error` messages from the server, as their code.
    pub errors: Vec<String>,
    /// Recorders: delivery latency of every bench comment, ms.
    pub latencies_ms: Vec<f64>,
    /// Recorders: sum of `likes.delta` received after `send_start`.
    pub likes_delta: u64,
    /// Recorders: the last `likes.total` seen.
    pub likes_total: Option<u64>,
}

/// Runs member `i` to the end of the plan.
pub async fn run(i: usize, plan: Arc<Plan>) -> Outcome {
    let mut out = Outcome {
        recorder: i.is_multiple_of(plan.record_every),
        ..Outcome::default()
    };
    let join_at = plan.join_start + plan.join_step * i as u32;
    tokio::time::sleep_until(join_at.into()).await;
    let result = tokio::time::timeout_at(plan.end.into(), session(i, &plan, &mut out)).await;
    match result {
        // Members leaving at the end make the server send `viewers` to everyone still
        // there; what happens to a member after the end is not the run's business.
        Ok(Err(_)) if out.joined && Instant::now() >= plan.end => {}
        Ok(Err(e)) => out.error = Some(format!("{e:#}")),
        Ok(Ok(())) => {}
        Err(_) if !out.joined => out.error = Some("not joined by the end of the run".into()),
        Err(_) => {}
    }
    if out.error.is_some() {
        out.failed_at_s = Some(plan.start.elapsed().as_secs_f64());
    }
    out
}

/// The first send time at or after `from` on the grid `phase + k × period`.
fn first_slot(plan: &Plan, phase: f64, period: f64, from: Instant) -> Option<Instant> {
    if !(period.is_finite() && period > 0.0) {
        return None;
    }
    let mut t = plan.send_start + Duration::from_secs_f64(phase);
    if t < from {
        let behind = from.duration_since(t).as_secs_f64();
        t += Duration::from_secs_f64((behind / period).ceil() * period);
    }
    (t < plan.send_end).then_some(t)
}

fn next_slot(plan: &Plan, t: Instant, period: f64) -> Option<Instant> {
    let t = t + Duration::from_secs_f64(period);
    (t < plan.send_end).then_some(t)
}

async fn session(i: usize, plan: &Plan, out: &mut Outcome) -> anyhow::Result<()> {
    let started = Instant::now();
    let handshake = async {
        let stream = TcpStream::connect(plan.addr)
            .await
            .map_err(crate::connect_error)?;
        stream.set_nodelay(true)?;
        let (ws, _) = tokio_tungstenite::client_async(plan.url.as_str(), stream)
            .await
            .map_err(|e| anyhow!("WebSocket handshake: {e}"))?;
        anyhow::Ok(ws)
    };
    let mut ws = tokio::time::timeout(JOIN_TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("no WebSocket within {JOIN_TIMEOUT:?}"))??;
    let join = ClientMessage::Join {
        name: format!("bench{i}"),
    };
    ws.send(Message::text(serde_json::to_string(&join)?))
        .await?;
    // Until the welcome, only errors matter.
    let welcome = async {
        while let Some(m) = ws.next().await {
            if let Message::Text(t) = m? {
                match serde_json::from_str::<ServerMessage>(&t) {
                    Ok(ServerMessage::Welcome { .. }) => return Ok(()),
                    Ok(ServerMessage::Error { code, message }) => {
                        bail!("join refused: {code:?} {message}")
                    }
                    _ => {}
                }
            }
        }
        bail!("closed before welcome")
    };
    tokio::time::timeout(JOIN_TIMEOUT, welcome)
        .await
        .map_err(|_| anyhow!("no welcome within {JOIN_TIMEOUT:?}"))??;
    out.joined = true;
    out.join_ms = Some(started.elapsed().as_secs_f64() * 1000.0);

    // Member i's sends sit at phase i / rate on a grid of period members / rate, so the
    // members together send at `rate`, evenly.
    let m = plan.members as f64;
    let (c_period, l_period) = (m / plan.comments, m / plan.likes);
    let now = Instant::now();
    let mut next_comment = first_slot(plan, i as f64 / plan.comments, c_period, now);
    let mut next_like = first_slot(plan, i as f64 / plan.likes, l_period, now);
    loop {
        let next = match (next_comment, next_like) {
            (Some(c), Some(l)) => c.min(l),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => plan.end,
        };
        tokio::select! {
            m = ws.next() => {
                let Some(m) = m else { bail!("closed by server") };
                match m? {
                    Message::Text(t) => receive(plan, out, &t),
                    Message::Close(frame) => bail!(
                        "closed by server{}",
                        frame.map(|f| format!(": {} {}", f.code, f.reason)).unwrap_or_default()
                    ),
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(next.into()) => {
                let now = Instant::now();
                if let Some(slot) = next_comment.filter(|t| *t <= now) {
                    out.send_late_ms.push(now.duration_since(slot).as_secs_f64() * 1000.0);
                    let text = format!("t={}", plan.micros(Instant::now()));
                    let msg = serde_json::to_string(&ClientMessage::Comment { text })?;
                    ws.send(Message::text(msg)).await?;
                    out.comments_sent += 1;
                    next_comment = next_comment.and_then(|t| next_slot(plan, t, c_period));
                }
                if next_like.is_some_and(|t| t <= now) {
                    let msg = serde_json::to_string(&ClientMessage::Like { count: 1 })?;
                    ws.send(Message::text(msg)).await?;
                    out.likes_sent += 1;
                    next_like = next_like.and_then(|t| next_slot(plan, t, l_period));
                }
                if now >= plan.end {
                    return Ok(());
                }
            }
        }
    }
}

/// The type of a server message from its first bytes (serde writes the tag first).
fn kind_of(text: &str) -> &str {
    text.strip_prefix(r#"{"type":""#)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

fn receive(plan: &Plan, out: &mut Outcome, text: &str) {
    let now = Instant::now();
    let in_window = (plan.send_start..plan.send_end).contains(&now);
    if now < plan.send_start {
        out.before += 1;
    }
    let kind = kind_of(text);
    for k in [&mut out.all]
        .into_iter()
        .chain(in_window.then_some(&mut out.in_window))
    {
        match kind {
            "comment" => k.comment += 1,
            "likes" => k.likes += 1,
            "viewers" => k.viewers += 1,
            _ => k.other += 1,
        }
    }
    let interesting = kind == "error" || (out.recorder && (kind == "comment" || kind == "likes"));
    if !interesting {
        return;
    }
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Comment(c)) => {
            let sent = c
                .text
                .strip_prefix("t=")
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(sent) = sent {
                let latency_us = plan.micros(now).saturating_sub(sent);
                out.latencies_ms.push(latency_us as f64 / 1000.0);
            }
        }
        Ok(ServerMessage::Likes { delta, total }) => {
            if now >= plan.send_start {
                out.likes_delta += delta;
            }
            out.likes_total = Some(total);
        }
        Ok(ServerMessage::Error { code, .. }) => out.errors.push(format!("{code:?}")),
        Ok(_) => {}
        Err(_) => out.errors.push("unparsable".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let start = Instant::now();
        Plan {
            addr: "127.0.0.1:1".parse().unwrap(),
            url: "ws://127.0.0.1:1/api/rooms/r/chat".into(),
            members: 4,
            comments: 2.0,
            likes: 4.0,
            start,
            join_start: start,
            join_step: Duration::ZERO,
            send_start: start + Duration::from_secs(1),
            send_end: start + Duration::from_secs(5),
            end: start + Duration::from_secs(6),
            record_every: 2,
        }
    }

    #[test]
    fn schedules_spread_evenly() {
        let p = plan();
        // 4 members, 2 comments/s: each sends every 2 s, member 3 at phase 1.5 s.
        let t = first_slot(&p, 1.5, 2.0, p.start).unwrap();
        assert_eq!(t, p.send_start + Duration::from_millis(1500));
        let t = next_slot(&p, t, 2.0).unwrap();
        assert_eq!(t, p.send_start + Duration::from_millis(3500));
        assert_eq!(next_slot(&p, t, 2.0), None);
        // Joining late skips the missed slots but keeps the grid.
        let late = first_slot(&p, 0.5, 2.0, p.send_start + Duration::from_secs(1)).unwrap();
        assert_eq!(late, p.send_start + Duration::from_millis(2500));
        assert_eq!(first_slot(&p, 0.0, f64::INFINITY, p.start), None);
    }

    #[test]
    fn receives_and_measures() {
        let p = plan();
        assert_eq!(kind_of(r#"{"type":"likes","delta":1,"total":2}"#), "likes");
        assert_eq!(kind_of("[]"), "");
        let mut out = Outcome {
            recorder: true,
            ..Outcome::default()
        };
        let comment = r#"{"type":"comment","id":1,"from":"a","text":"t=0","at":0}"#;
        receive(&p, &mut out, comment);
        receive(&p, &mut out, r#"{"type":"viewers","count":3}"#);
        receive(
            &p,
            &mut out,
            r#"{"type":"error","code":"rate_limited","message":"x"}"#,
        );
        assert_eq!(out.all.comment, 1);
        assert_eq!(out.all.total(), 3);
        assert_eq!(out.in_window.total(), 0);
        assert_eq!(out.latencies_ms.len(), 1);
        assert_eq!(out.errors, vec!["RateLimited".to_string()]);
    }
}
