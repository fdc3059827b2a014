//! `/push.html`: the browser studio. Choose camera or screen and a preset, press **Go live**:
//! the page creates a room (or reuses the one it made before), captures, encodes with
//! WebCodecs and pushes FLV over a WebSocket (`services::studio`). It shows a preview, a
//! status panel, the share link and the room's chat; errors are said in the page with a
//! way forward. The create-room form (key shown once, OBS settings) stays for OBS users.
//!
//! Query options (for links and tests): `?source=screen|screen+mic`, `?preset=360p30…`,
//! `?bitrate=KBPS`, `?room=NAME&key=KEY` (push to a given stream name instead of a room),
//! `?recorder=1` (the MediaRecorder fallback even where WebCodecs exists).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::chat::Chat;
use crate::hooks::use_studio::{UseStudio, use_studio};
use crate::services::studio::room::{self, SavedRoom};
use crate::services::studio::{LinkState, Settings, Source, Stats, StudioError};
use crate::services::{self, api::Created};

/// The create-room form's state.
#[derive(Clone, PartialEq)]
enum Form {
    Idle,
    Creating,
    Failed(String),
}

/// Resolution / frame-rate presets: (name, width, height, fps).
const PRESETS: [(&str, u32, u32, u32); 4] = [
    ("1080p30", 1920, 1080, 30),
    ("720p30", 1280, 720, 30),
    ("480p30", 854, 480, 30),
    ("360p30", 640, 360, 30),
];
const DEFAULT_PRESET: &str = "720p30";
/// Bitrate choices in kbit/s.
const BITRATES: [u32; 5] = [800, 1_500, 2_500, 4_000, 6_000];
const DEFAULT_KBPS: u32 = 2_500;
/// The title of a room made by pressing Go live without creating one first.
const DEFAULT_TITLE: &str = "Live from the studio";

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Camera => "camera",
        Source::Screen { mic: false } => "screen",
        Source::Screen { mic: true } => "screen+mic",
    }
}

fn parse_source(name: &str) -> Source {
    match name {
        "screen" => Source::Screen { mic: false },
        "screen+mic" => Source::Screen { mic: true },
        _ => Source::Camera,
    }
}

/// A room given in the query (`?room=NAME&key=KEY`), else the saved one.
fn initial_room() -> (Option<SavedRoom>, bool) {
    match (room::query("room"), room::query("key")) {
        (Some(id), Some(stream_key)) => (
            Some(SavedRoom {
                title: id.clone(),
                id,
                stream_key,
            }),
            true,
        ),
        _ => (room::load(), false),
    }
}

#[function_component(Studio)]
pub fn studio() -> Html {
    let title = use_state(String::new);
    let form = use_state(|| Form::Idle);
    let created = use_state(|| None::<Created>);
    let initial = use_memo((), |_| initial_room());
    let saved = use_state(|| initial.0.clone());
    let from_query = initial.1;
    let source = use_state(|| parse_source(&room::query("source").unwrap_or_default()));
    let preset = use_state(|| {
        room::query("preset")
            .filter(|p| PRESETS.iter().any(|(n, ..)| n == p))
            .unwrap_or_else(|| DEFAULT_PRESET.into())
    });
    let kbps = use_state(|| {
        room::query("bitrate")
            .and_then(|b| b.parse::<u32>().ok())
            .filter(|b| (100..=20_000).contains(b))
            .unwrap_or(DEFAULT_KBPS)
    });
    let preview = use_node_ref();
    let UseStudio {
        view,
        start,
        stop,
        viewers,
    } = use_studio(preview.clone(), saved.as_ref().map(|r| r.id.clone()));

    let settings_for = {
        let (source, preset, kbps) = (*source, (*preset).clone(), *kbps);
        // `?recorder=1` forces the MediaRecorder fallback (WebCodecs browsers test it so).
        let recorder = room::query("recorder").as_deref() == Some("1");
        move |room: &SavedRoom| -> Option<Settings> {
            let (_, width, height, fps) = PRESETS
                .iter()
                .copied()
                .find(|(n, ..)| *n == preset)
                .unwrap_or(PRESETS[1]);
            Some(Settings {
                source,
                width,
                height,
                fps,
                bitrate: kbps * 1000,
                push_url: room::push_url(&room.id, &room.stream_key)?,
                recorder,
            })
        }
    };

    // Creates a room, remembers it (for reloads), then calls `then` with it.
    let create = {
        let form = form.clone();
        let created = created.clone();
        let saved = saved.clone();
        move |title: String, then: Option<Callback<SavedRoom>>| {
            if *form == Form::Creating {
                return;
            }
            form.set(Form::Creating);
            let (form, created, saved) = (form.clone(), created.clone(), saved.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::api::create_room(&title).await {
                    Ok(room) => {
                        let keep = SavedRoom {
                            id: room.id.clone(),
                            title: room.title.clone(),
                            stream_key: room.stream_key.clone(),
                        };
                        room::save(&keep);
                        saved.set(Some(keep.clone()));
                        created.set(Some(room));
                        form.set(Form::Idle);
                        if let Some(then) = then {
                            then.emit(keep);
                        }
                    }
                    Err(e) => {
                        services::warn(&format!("studio: {e}"));
                        form.set(Form::Failed(e));
                    }
                }
            });
        }
    };

    let on_title = {
        let title = title.clone();
        Callback::from(move |e: InputEvent| title.set(services::dom::input_value(&e)))
    };
    let on_create = {
        let title = title.clone();
        let create = create.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            create((*title).clone(), None);
        })
    };
    let go_live_with = {
        let start = start.clone();
        let form = form.clone();
        let settings_for = settings_for.clone();
        Callback::from(move |room: SavedRoom| match settings_for(&room) {
            Some(settings) => start.emit(settings),
            None => form.set(Form::Failed(
                "no page location to build the push URL".into(),
            )),
        })
    };
    let on_go_live = {
        let saved = saved.clone();
        let title = title.clone();
        let go_live_with = go_live_with.clone();
        Callback::from(move |_: MouseEvent| match &*saved {
            Some(room) => go_live_with.emit(room.clone()),
            None => {
                let t = if title.trim().is_empty() {
                    DEFAULT_TITLE.to_string()
                } else {
                    (*title).clone()
                };
                create(t, Some(go_live_with.clone()));
            }
        })
    };
    let on_stop = stop.reform(|_: MouseEvent| ());
    let on_forget = {
        let saved = saved.clone();
        let created = created.clone();
        let stop = stop.clone();
        Callback::from(move |_: MouseEvent| {
            stop.emit(());
            room::forget();
            saved.set(None);
            created.set(None);
        })
    };
    let on_source = {
        let source = source.clone();
        Callback::from(move |e: Event| {
            source.set(parse_source(&services::studio::select_value(&e)))
        })
    };
    let on_preset = {
        let preset = preset.clone();
        Callback::from(move |e: Event| preset.set(services::studio::select_value(&e)))
    };
    let on_kbps = {
        let kbps = kbps.clone();
        Callback::from(move |e: Event| {
            if let Ok(v) = services::studio::select_value(&e).parse() {
                kbps.set(v);
            }
        })
    };

    let running = view.running;
    let controls = html! {
        <div class="studio-controls" role="group" aria-label="Broadcast settings">
            <label for="studio-source">{"Source"}</label>
            <select id="studio-source" onchange={on_source} disabled={running}>
                { for ["camera", "screen", "screen+mic"].iter().map(|s| {
                    let label = match *s { "camera" => "Camera + microphone", "screen" => "Screen", _ => "Screen + microphone" };
                    html! { <option value={*s} selected={source_name(*source) == *s}>{label}</option> }
                }) }
            </select>
            <label for="studio-preset">{"Resolution"}</label>
            <select id="studio-preset" onchange={on_preset} disabled={running}>
                { for PRESETS.iter().map(|(n, ..)| html! {
                    <option value={*n} selected={*preset == *n}>{*n}</option>
                }) }
            </select>
            <label for="studio-bitrate">{"Bitrate"}</label>
            <select id="studio-bitrate" onchange={on_kbps} disabled={running}>
                { for BITRATES.iter().map(|b| html! {
                    <option value={b.to_string()} selected={*kbps == *b}>{format!("{:.1} Mbit/s", f64::from(*b) / 1000.0)}</option>
                }) }
            </select>
            <button type="button" class="go-live" onclick={on_go_live}
                disabled={running || *form == Form::Creating}>{"Go live"}</button>
            <button type="button" class="stop" onclick={on_stop} disabled={!running}>{"Stop"}</button>
        </div>
    };

    let error = view
        .error
        .as_ref()
        .map(|e| error_panel(e, on_forget.clone()));
    let share = saved.as_ref().map(|r| room::share_link(&r.id));
    let status = status_panel(view.state, view.stats.as_ref(), viewers, share.as_deref());

    let room_panel = match (&*created, &*saved) {
        (Some(room), _) => created_room(room),
        (None, Some(room)) => saved_room(room, from_query, on_forget.clone()),
        (None, None) => html! {
            <form class="create-room" onsubmit={on_create}>
                <h2>{"Create a room"}</h2>
                <label for="room-title">{"Room title"}</label>
                <input id="room-title" type="text" maxlength="100" required=true
                    value={(*title).clone()} oninput={on_title} />
                <button type="submit" disabled={*form == Form::Creating}>{"Create room"}</button>
                <p class="hint">{"Or just press Go live: a room is made for you."}</p>
            </form>
        },
    };
    let form_error = match &*form {
        Form::Failed(e) => html! {
            <p class="chat-notice" role="alert">{ format!("Could not create the room: {e}. Check that the server is running, then try again.") }</p>
        },
        _ => html! {},
    };

    html! {
        <section class="page studio">
            <h1>{"Studio"}</h1>
            { controls }
            { form_error }
            { for error }
            <div class="stage studio-stage">
                <div class="studio-preview" role="region" aria-label="Preview">
                    <video ref={preview} muted=true autoplay=true playsinline=true />
                    if !running {
                        <p class="preview-idle">{"Press Go live to start your camera or screen"}</p>
                    }
                </div>
                { status }
                // A stream name from the query may not be a room at all: no chat for it.
                if let (Some(room), false) = (&*saved, from_query) {
                    <Chat key={room.id.clone()} room={AttrValue::from(room.id.clone())} likes={Some(0)} />
                }
            </div>
            { room_panel }
        </section>
    }
}

fn status_panel(
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

fn error_panel(error: &StudioError, forget: Callback<MouseEvent>) -> Html {
    let forget_button = matches!(error, StudioError::KeyRefused(_));
    html! {
        <div class="studio-error" role="alert">
            <p><strong>{ error.to_string() }</strong></p>
            <p>{ error.hint() }</p>
            if forget_button {
                <button type="button" onclick={forget}>{"Forget room"}</button>
            }
        </div>
    }
}

/// A room from an earlier visit (or the query): its share link and a way to start over.
fn saved_room(room: &SavedRoom, from_query: bool, forget: Callback<MouseEvent>) -> Html {
    html! {
        <div class="room-created" role="region" aria-label="Your room">
            <h2>{"Your room: "}{ room.title.clone() }</h2>
            <dl class="settings">
                <dt>{"Viewers watch at"}</dt>
                <dd>
                    <Link<Route> to={Route::Watch { room: room.id.clone() }}>
                        { room::share_link(&room.id) }
                    </Link<Route>>
                </dd>
            </dl>
            if !from_query {
                <button type="button" onclick={forget}>{"Forget room"}</button>
            }
        </div>
    }
}

/// The new room: its key (shown this once) and the OBS settings.
fn created_room(room: &Created) -> Html {
    // OBS wants the server and the key separately.
    let (obs_server, _) = room
        .push
        .rtmp
        .rsplit_once('/')
        .unwrap_or((room.push.rtmp.as_str(), ""));
    let obs_key = format!("{}?key={}", room.id, room.stream_key);
    html! {
        <div class="room-created" role="region" aria-label="Your room">
            <h2>{"Your room: "}{ room.title.clone() }</h2>
            <p class="warning">{"Copy the stream key now: it is shown only once."}</p>
            <dl class="settings">
                <dt>{"Stream key"}</dt><dd><code>{ room.stream_key.clone() }</code></dd>
                <dt>{"OBS server"}</dt><dd><code>{ obs_server.to_string() }</code></dd>
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
