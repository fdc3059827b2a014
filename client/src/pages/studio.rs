//! `/push.html`: the browser studio. Sign in, pick one of your rooms (or create one), choose
//! camera or screen and a preset, press **Go live**: the page captures, encodes with
//! WebCodecs and pushes FLV over a WebSocket (`services::studio`). It shows a preview, a
//! status panel, the share link, the room's chat and its management (visibility, key,
//! moderators, viewer links); errors are said in the page with a way forward.
//!
//! A stream key exists in this page only: as the server shows it once (on create, or on a
//! new key), the studio keeps it in memory; going live with a room whose key it does not
//! hold makes a new key. On a page that is not a secure context (plain HTTP on a LAN address
//! or a domain) the browser has no camera or screen capture: the page says to use HTTPS.
//!
//! Query options (for links and tests): `?source=screen|screen+mic`, `?preset=360p30…`,
//! `?bitrate=KBPS`, `?room=NAME&key=KEY` (push to a given room or stream name with its key,
//! no sign-in: the key is the authority, as for OBS), `?recorder=1` (the MediaRecorder
//! fallback even where WebCodecs exists).

use std::collections::HashMap;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::chat::Chat;
use crate::components::manage::ManageRoom;
use crate::components::signin::SignInForm;
use crate::components::studio_panels::{created_room, error_panel, status_panel};
use crate::hooks::use_my_rooms::{MyRooms, use_my_rooms};
use crate::hooks::use_session::{SessionState, use_session};
use crate::hooks::use_studio::{UseStudio, use_studio};
use crate::services::api::{self, ApiError, Created};
use crate::services::studio::room::{self, SavedRoom};
use crate::services::studio::{Settings, Source};
use crate::services::{self, session};

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

/// A room and key given in the query (`?room=NAME&key=KEY`).
fn query_room() -> Option<SavedRoom> {
    match (room::query("room"), room::query("key")) {
        (Some(id), Some(stream_key)) => Some(SavedRoom {
            title: id.clone(),
            id,
            stream_key,
        }),
        _ => None,
    }
}

/// The Studio page: the HTTPS notice on an insecure page, else the studio.
#[function_component(Studio)]
pub fn studio() -> Html {
    if !session::is_secure_context() {
        let host = session::host();
        return html! {
            <section class="page studio">
                <h1>{"Studio"}</h1>
                <div class="notice insecure" role="alert" data-testid="needs-https">
                    <p><strong>{"Camera and screen capture need HTTPS."}</strong></p>
                    <p>
                        {"Browsers allow them only on secure pages: open "}
                        <a href={format!("https://{host}/push.html")}>{ format!("https://{host}/push.html") }</a>
                        {" (see README › Deploy to serve onair over HTTPS). Pushing with OBS or ffmpeg \
                          works without it."}
                    </p>
                </div>
            </section>
        };
    }
    html! { <StudioPage /> }
}

/// What the room panel does right now.
#[derive(Clone, PartialEq)]
enum Form {
    Idle,
    Busy,
    Failed(String),
}

#[function_component(StudioPage)]
fn studio_page() -> Html {
    let session = use_session();
    let user = session.state.user().cloned();
    let streamer = user.as_ref().is_some_and(|u| u.can_stream());
    let from_query = use_memo((), |_| query_room());
    let (mine, reload) = use_my_rooms(streamer && from_query.is_none());
    // Stream keys of this page session, by room id; never stored.
    let keys = use_mut_ref(HashMap::<String, String>::new);
    let selected = use_state(|| None::<String>);
    let created = use_state(|| None::<Created>);
    let title = use_state(String::new);
    let visibility = use_state(|| "public".to_string());
    let form = use_state(|| Form::Idle);
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

    // The room a broadcast goes to: the query's, else the chosen one of mine (the first
    // by default).
    let rooms = match &mine {
        MyRooms::Loaded(rooms) => rooms.clone(),
        _ => Vec::new(),
    };
    let chosen = (*from_query).clone().map(|r| r.id).or_else(|| {
        let wanted = (*selected).clone();
        wanted
            .filter(|id| rooms.iter().any(|r| &r.id == id))
            .or_else(|| rooms.first().map(|r| r.id.clone()))
    });
    let chosen_room = chosen
        .as_ref()
        .and_then(|id| rooms.iter().find(|r| &r.id == id).cloned());

    let preview = use_node_ref();
    let UseStudio {
        view,
        start,
        stop,
        viewers,
    } = use_studio(preview.clone(), chosen.clone());

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
    let go_live_with = {
        let (start, form) = (start.clone(), form.clone());
        Callback::from(move |room: SavedRoom| match settings_for(&room) {
            Some(settings) => start.emit(settings),
            None => form.set(Form::Failed(
                "no page location to build the push URL".into(),
            )),
        })
    };
    // A key from the server (create or rotate): kept for this page, shown once.
    let keep_key = {
        let (keys, created, selected) = (keys.clone(), created.clone(), selected.clone());
        let reload = reload.clone();
        Callback::from(move |room: Created| {
            keys.borrow_mut()
                .insert(room.id.clone(), room.stream_key.clone());
            selected.set(Some(room.id.clone()));
            created.set(Some(room));
            reload.emit(());
        })
    };
    // Runs a call that yields a key, keeps it, then maybe goes live with it.
    let with_key = {
        let (form, keep_key, go_live_with) = (form.clone(), keep_key.clone(), go_live_with.clone());
        move |call: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Created, ApiError>>>,
        >,
              live: bool| {
            if *form == Form::Busy {
                return;
            }
            form.set(Form::Busy);
            let (form, keep_key, go_live_with) =
                (form.clone(), keep_key.clone(), go_live_with.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match call.await {
                    Ok(room) => {
                        form.set(Form::Idle);
                        let target = SavedRoom {
                            id: room.id.clone(),
                            title: room.title.clone(),
                            stream_key: room.stream_key.clone(),
                        };
                        keep_key.emit(room);
                        if live {
                            go_live_with.emit(target);
                        }
                    }
                    Err(e) => {
                        services::warn(&format!("studio: {e}"));
                        form.set(Form::Failed(e.to_string()));
                    }
                }
            });
        }
    };

    let on_title = {
        let title = title.clone();
        Callback::from(move |e: InputEvent| title.set(services::dom::input_value(&e)))
    };
    let on_visibility = {
        let visibility = visibility.clone();
        Callback::from(move |e: Event| visibility.set(services::studio::select_value(&e)))
    };
    let on_create = {
        let (title, visibility, with_key) = (title.clone(), visibility.clone(), with_key.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (t, v) = ((*title).clone(), (*visibility).clone());
            with_key(
                Box::pin(async move { api::create_room(&t, &v).await }),
                false,
            );
        })
    };
    let on_go_live = {
        let (from_query, keys, chosen_room) =
            (from_query.clone(), keys.clone(), chosen_room.clone());
        let (title, visibility, go_live_with) =
            (title.clone(), visibility.clone(), go_live_with.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(room) = &*from_query {
                return go_live_with.emit(room.clone());
            }
            match &chosen_room {
                Some(room) => match keys.borrow().get(&room.id) {
                    Some(key) => go_live_with.emit(SavedRoom {
                        id: room.id.clone(),
                        title: room.title.clone(),
                        stream_key: key.clone(),
                    }),
                    // The server keeps only a hash: a new key for this session.
                    None => {
                        let id = room.id.clone();
                        with_key(Box::pin(async move { api::rotate_key(&id).await }), true);
                    }
                },
                None => {
                    let t = if title.trim().is_empty() {
                        DEFAULT_TITLE.to_string()
                    } else {
                        (*title).clone()
                    };
                    let v = (*visibility).clone();
                    with_key(
                        Box::pin(async move { api::create_room(&t, &v).await }),
                        true,
                    );
                }
            }
        })
    };
    let on_pick = {
        let (selected, created) = (selected.clone(), created.clone());
        Callback::from(move |e: Event| {
            selected.set(Some(services::studio::select_value(&e)));
            created.set(None);
        })
    };
    let on_stop = stop.reform(|_: MouseEvent| ());
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

    // Signing out mid-broadcast ends it: the page no longer shows it.
    let signed_out = from_query.is_none() && !streamer;
    {
        let stop = stop.clone();
        use_effect_with((signed_out, view.running), move |(signed_out, running)| {
            if *signed_out && *running {
                stop.emit(());
            }
        });
    }
    // Signed out (and no key in the query): sign in first.
    if signed_out {
        let body = match &session.state {
            SessionState::Checking => {
                html! { <p class="notice" role="status">{"Checking your sign-in…"}</p> }
            }
            SessionState::SignedIn(_) => html! {
                <p class="notice" role="alert">
                    {"Your account cannot go live (moderators take part in chats only). \
                      Ask an admin for a streamer account."}
                </p>
            },
            SessionState::SignedOut => html! {
                <>
                    <p class="notice" role="status">
                        {"Sign in to go live. Pushing with OBS or ffmpeg needs only the room's stream key."}
                    </p>
                    <SignInForm />
                </>
            },
        };
        return html! {
            <section class="page studio">
                <h1>{"Studio"}</h1>
                { body }
            </section>
        };
    }

    let running = view.running;
    // Until the room list is in, Go live would not know whether to make a room.
    let busy = *form == Form::Busy || (from_query.is_none() && mine == MyRooms::Loading);
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
                disabled={running || busy}>{"Go live"}</button>
            <button type="button" class="stop" onclick={on_stop} disabled={!running}>{"Stop"}</button>
        </div>
    };

    let error = view.error.as_ref().map(error_panel);
    let share = chosen.as_ref().map(|id| room::share_link(id));
    let status = status_panel(view.state, view.stats.as_ref(), viewers, share.as_deref());
    let form_error = match &*form {
        Form::Failed(e) => html! {
            <p class="chat-notice" role="alert">{ format!("Could not get the room ready: {e}. Check that the server is running, then try again.") }</p>
        },
        _ => html! {},
    };

    let rooms_panel = if from_query.is_some() {
        html! {}
    } else {
        let picker = match &mine {
            MyRooms::Loading => html! { <p class="hint" role="status">{"Loading your rooms…"}</p> },
            MyRooms::Failed(e) => {
                html! { <p class="form-error" role="alert">{ format!("Could not load your rooms: {e}") }</p> }
            }
            MyRooms::Loaded(rooms) if rooms.is_empty() => html! {
                <p class="hint">{"You have no room yet: create one, or just press Go live and one is made for you."}</p>
            },
            MyRooms::Loaded(rooms) => html! {
                <>
                    <label for="studio-room">{"Room"}</label>
                    <select id="studio-room" onchange={on_pick} disabled={running}>
                        { for rooms.iter().map(|r| html! {
                            <option value={r.id.clone()} selected={chosen.as_deref() == Some(r.id.as_str())}>
                                { format!("{} ({}{})", r.title, r.visibility, if r.live { ", live" } else { "" }) }
                            </option>
                        }) }
                    </select>
                    if chosen.as_ref().is_some_and(|id| !keys.borrow().contains_key(id)) {
                        <p class="hint">{"Going live from here makes a new stream key for this room \
                            (the server keeps only a hash of the old one): OBS using the old key must be updated."}</p>
                    }
                </>
            },
        };
        html! {
            <div class="my-rooms" role="region" aria-label="My rooms">
                <h2>{"My rooms"}</h2>
                { picker }
                <form class="create-room" onsubmit={on_create}>
                    <h3>{"Create a room"}</h3>
                    <label for="room-title">{"Room title"}</label>
                    <input id="room-title" type="text" maxlength="100" required=true
                        value={(*title).clone()} oninput={on_title} />
                    <label for="room-new-visibility">{"Visibility"}</label>
                    <select id="room-new-visibility" onchange={on_visibility}>
                        { for ["public", "unlisted", "private"].iter().map(|v| html! {
                            <option value={*v} selected={*visibility == *v}>{*v}</option>
                        }) }
                    </select>
                    <button type="submit" disabled={busy}>{"Create room"}</button>
                </form>
            </div>
        }
    };
    let created_panel = (*created)
        .as_ref()
        .filter(|c| chosen.as_deref() == Some(c.id.as_str()))
        .map(created_room);
    let manage = chosen_room.clone().map(|room| {
        // The key panel stays until another room is picked (it is shown only once).
        let on_changed = reload.clone();
        let key = room.id.clone();
        html! { <ManageRoom {key} {room} {on_changed} on_key={keep_key.clone()} /> }
    });

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
                if let (Some(room), None) = (&chosen_room, &*from_query) {
                    <Chat key={room.id.clone()} room={AttrValue::from(room.id.clone())} likes={Some(room.likes)} />
                }
            </div>
            { rooms_panel }
            { for created_panel }
            { for manage }
            if let Some(room) = &*from_query {
                <div class="room-created" role="region" aria-label="Your room">
                    <h2>{"Pushing to "}{ room.id.clone() }</h2>
                    <p>
                        {"Viewers watch at "}
                        <Link<Route> to={Route::Watch { room: room.id.clone() }}>{ room::share_link(&room.id) }</Link<Route>>
                    </p>
                </div>
            }
        </section>
    }
}
