//! The live video: `<video>` with the player's state, an **Unmute** button when the browser
//! forced muted autoplay, and a stats overlay (toggle, or `?stats=1`).
//!
//! Query options (they make links shareable): `protocol=ws-flv|http-flv|hls|hls-mse`,
//! `latency=SECONDS`, `stats=1`.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::use_player::use_player;
use crate::services::player::{Options, PlayState, Protocol, Stats};

#[derive(Properties, PartialEq)]
pub struct PlayerProps {
    pub room: AttrValue,
    /// A private room's play token, for every media URL.
    #[prop_or_default]
    pub token: Option<AttrValue>,
    /// Whether `room` is a room (else a stream pushed by name, `--open-publish`).
    #[prop_or(true)]
    pub is_room: bool,
}

#[derive(serde::Deserialize, Default)]
struct Query {
    protocol: Option<String>,
    latency: Option<f64>,
    stats: Option<u8>,
}

#[function_component(LivePlayer)]
pub fn live_player(props: &PlayerProps) -> Html {
    let query = use_location()
        .and_then(|l| l.query::<Query>().ok())
        .unwrap_or_default();
    let options = Options {
        room: props.room.to_string(),
        token: props.token.as_ref().map(|t| t.to_string()),
        is_room: props.is_room,
        protocol: match query.protocol.as_deref() {
            Some("http-flv") => Protocol::HttpFlv,
            Some("hls") => Protocol::Hls,
            Some("hls-mse") => Protocol::HlsMse,
            _ => Protocol::WsFlv,
        },
        target_latency: query.latency.unwrap_or(1.0),
    };
    let video = use_node_ref();
    let handle = use_player(video.clone(), options);
    let show_stats = use_state(|| query.stats == Some(1));
    let toggle = {
        let show_stats = show_stats.clone();
        Callback::from(move |_| show_stats.set(!*show_stats))
    };
    let unmute = handle.unmute.reform(|_: MouseEvent| ());

    let state = handle.status.as_ref().map(|s| s.state.clone());
    let label = match &state {
        None | Some(PlayState::Connecting) => Some("Connecting…".to_string()),
        Some(PlayState::Offline) => {
            Some("Offline: the stream starts here when it goes live".into())
        }
        Some(PlayState::Playing) => None,
        Some(PlayState::Reconnecting) => Some("Reconnecting…".into()),
        Some(PlayState::Ended) => Some("The stream has ended".into()),
        Some(PlayState::Error(e)) => Some(format!("Cannot play: {e}")),
        Some(PlayState::Denied(why)) => Some(why.clone()),
    };
    let muted = handle.status.as_ref().is_some_and(|s| s.muted);
    html! {
        <div class="player" role="region" aria-label="Video">
            <video ref={video} playsinline=true />
            if let Some(label) = label {
                <div class="player-state" role="status">{ label }</div>
            }
            <div class="player-controls">
                if muted {
                    <button class="unmute" onclick={unmute}>{"Unmute"}</button>
                }
                <button class="stats-toggle" aria-pressed={(*show_stats).to_string()}
                    onclick={toggle}>{"Stats"}</button>
            </div>
            if *show_stats {
                if let Some(status) = &handle.status {
                    { stats_overlay(&status.stats) }
                }
            }
        </div>
    }
}

fn stats_overlay(s: &Stats) -> Html {
    let g2g = s
        .g2g_ms
        .map_or("–".to_string(), |ms| format!("{:.0} ms", ms));
    html! {
        <dl class="player-stats" aria-label="Stats">
            <dt>{"Latency"}</dt><dd>{ format!("{:.2} s (target {:.1} s)", s.latency, s.target) }</dd>
            <dt>{"Glass to glass"}</dt><dd>{ g2g }</dd>
            <dt>{"Buffer"}</dt><dd>{ format!("{:.2} s", s.buffer) }</dd>
            <dt>{"Bitrate"}</dt><dd>{ format!("{:.0} kbit/s", s.bitrate_kbps) }</dd>
            <dt>{"Resolution"}</dt><dd>{ format!("{}×{}", s.width, s.height) }</dd>
            <dt>{"Frame rate"}</dt><dd>{ format!("{:.1} fps", s.fps) }</dd>
            <dt>{"Dropped"}</dt><dd>{ format!("{} / {}", s.dropped_frames, s.total_frames) }</dd>
            <dt>{"Speed"}</dt><dd>{ format!("{:.2}×", s.rate) }</dd>
            <dt>{"Via"}</dt><dd>{ format!("{} · {}", s.protocol, s.codecs) }</dd>
        </dl>
    }
}
