//! The studio's panels: the broadcast status, an error with its way forward, and a new
//! stream key (shown this once) with the OBS settings.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::services::api::Created;
use crate::services::studio::{LinkState, Stats, StudioError};

pub fn status_panel(
    state: LinkState,
    stats: Option<&Stats>,
    viewers: Option<u64>,
    share: Option<&str>,
) -> Html {
    let state_text = match state {
        LinkState::Starting => "Starting…".to_string(),
        LinkState::Connecting => "Connecting…".to_string(),
        LinkState::Live => "Live".to_string(),
        LinkState::Reconnecting(n) => format!("Reconnecting (attempt {})…", n + 1),
        LinkState::Stopped => "Off air".to_string(),
    };
    let s = stats.cloned().unwrap_or_default();
    let elapsed = s.elapsed_s.max(0.0) as u64;
    let congestion = if s.congested {
        " (slow uplink: dropping video)"
    } else {
        ""
    };
    html! {
        <div class="studio-status" role="region" aria-label="Status">
            <dl>
                <dt>{"Connection"}</dt><dd data-testid="studio-state">{ state_text }</dd>
                <dt>{"Sent"}</dt><dd>{ format!("{:.0} kbit/s (target {}){congestion}", s.bitrate_kbps, s.target_kbps) }</dd>
                <dt>{"Frame rate"}</dt><dd>{ format!("{:.1} fps", s.fps) }</dd>
                <dt>{"Encoder queue"}</dt><dd>{ s.encoder_queue }</dd>
                <dt>{"Dropped frames"}</dt><dd>{ s.dropped_frames }</dd>
                <dt>{"Queued"}</dt><dd>{ format!("{} KB unacknowledged, {} KB in the browser", s.in_flight / 1000, s.buffered_amount / 1000) }</dd>
                <dt>{"Elapsed"}</dt><dd>{ format!("{}:{:02}:{:02}", elapsed / 3600, elapsed / 60 % 60, elapsed % 60) }</dd>
                <dt>{"Viewers"}</dt><dd>{ viewers.map_or("–".to_string(), |v| v.to_string()) }</dd>
                <dt>{"Codecs"}</dt><dd>{ format!("{} {}x{} / {}", s.video_codec, s.width, s.height, s.audio_codec) }</dd>
                <dt>{"Reconnects"}</dt><dd>{ s.reconnects }</dd>
                if let Some(link) = share {
                    <dt>{"Share link"}</dt><dd><a href={link.to_string()} data-testid="share-link">{ link.to_string() }</a></dd>
                }
            </dl>
        </div>
    }
}

pub fn error_panel(error: &StudioError) -> Html {
    html! {
        <div class="studio-error" role="alert">
            <p><strong>{ error.to_string() }</strong></p>
            <p>{ error.hint() }</p>
        </div>
    }
}

/// The new room: its key (shown this once) and the OBS settings.
pub fn created_room(room: &Created) -> Html {
    // OBS wants the server and the key separately.
    let (obs_server, _) = room
        .push
        .rtmp
        .rsplit_once('/')
        .unwrap_or((room.push.rtmp.as_str(), ""));
    let obs_key = format!("{}?key={}", room.id, room.stream_key);
    let obs_rtmps = room.push.rtmps.as_deref().map(|url| {
        url.rsplit_once('/')
            .map_or(url, |(server, _)| server)
            .to_string()
    });
    html! {
        <div class="room-created" role="region" aria-label="Your room">
            <h2>{"Your room: "}{ room.title.clone() }</h2>
            <p class="warning">{"Copy the stream key now: it is shown only once."}</p>
            <dl class="settings">
                <dt>{"Stream key"}</dt><dd><code>{ room.stream_key.clone() }</code></dd>
                <dt>{"OBS server"}</dt><dd><code>{ obs_server.to_string() }</code></dd>
                if let Some(server) = obs_rtmps {
                    <dt>{"OBS server (RTMPS)"}</dt><dd><code>{ server }</code></dd>
                }
                <dt>{"OBS stream key"}</dt><dd><code>{ obs_key }</code></dd>
                <dt>{"ffmpeg (HTTP-FLV)"}</dt><dd><code>{ room.push.http.clone() }</code></dd>
                <dt>{"Viewers watch at"}</dt>
                <dd>
                    <Link<Route> to={Route::Watch { room: room.id.clone() }}>
                        { room.play.page.clone() }
                    </Link<Route>>
                </dd>
                <dt>{"HLS"}</dt><dd><code>{ room.play.hls.clone() }</code></dd>
            </dl>
        </div>
    }
}
