//! `/push.html`: the browser studio. The capture → WebCodecs → FLV → WebSocket pipeline lands
//! with the studio issue; until then the page says so, and lets a broadcaster create a room
//! (its stream key is shown once, with the OBS settings) and watch its chat beside the preview.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::chat::Chat;
use crate::services::{self, api::Created};

/// The create-room form's state.
#[derive(Clone, PartialEq)]
enum Form {
    Idle,
    Creating,
    Failed(String),
}

#[function_component(Studio)]
pub fn studio() -> Html {
    let title = use_state(String::new);
    let form = use_state(|| Form::Idle);
    let created = use_state(|| None::<Created>);

    let on_title = {
        let title = title.clone();
        Callback::from(move |e: InputEvent| title.set(services::dom::input_value(&e)))
    };
    let on_create = {
        let title = title.clone();
        let form = form.clone();
        let created = created.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *form == Form::Creating {
                return;
            }
            form.set(Form::Creating);
            let title = (*title).clone();
            let form = form.clone();
            let created = created.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match services::api::create_room(&title).await {
                    Ok(room) => {
                        created.set(Some(room));
                        form.set(Form::Idle);
                    }
                    Err(e) => {
                        services::warn(&format!("studio: {e}"));
                        form.set(Form::Failed(e));
                    }
                }
            });
        })
    };

    let room_panel = match &*created {
        None => html! {
            <form class="create-room" onsubmit={on_create}>
                <h2>{"Create a room"}</h2>
                <label for="room-title">{"Room title"}</label>
                <input id="room-title" type="text" maxlength="100" required=true
                    value={(*title).clone()} oninput={on_title} />
                <button type="submit" disabled={*form == Form::Creating}>{"Create room"}</button>
                if let Form::Failed(e) = &*form {
                    <p class="chat-notice" role="alert">{ e.clone() }</p>
                }
            </form>
        },
        Some(room) => created_room(room),
    };

    html! {
        <section class="page studio">
            <h1>{"Studio"}</h1>
            <p class="notice" role="status">
                {"Coming soon: going live from your camera or screen, right in this page. \
                  Meanwhile push with OBS or ffmpeg over RTMP."}
            </p>
            { room_panel }
        </section>
    }
}

/// The new room: its key (shown this once), the OBS settings, and its chat beside the preview.
fn created_room(room: &Created) -> Html {
    // OBS wants the server and the key separately (DESIGN.md §3).
    let (obs_server, _) = room
        .push
        .rtmp
        .rsplit_once('/')
        .unwrap_or((room.push.rtmp.as_str(), ""));
    let obs_key = format!("{}?key={}", room.id, room.stream_key);
    html! {
        <>
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
            <div class="stage studio-stage">
                <div class="video-placeholder" role="region" aria-label="Preview">
                    <p>{"The camera preview is coming soon"}</p>
                </div>
                <Chat key={room.id.clone()} room={AttrValue::from(room.id.clone())} likes={Some(0)} />
            </div>
        </>
    }
}
