//! `/watch/:room` (and `/play.html?room=…`): the player page: the live video with the chat
//! beside it. A stream pushed by name without a room (`--open-publish`, RTMP) still plays.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::chat::Chat;
use crate::components::player::LivePlayer;
use crate::services::{self, api::Room};

#[derive(Properties, PartialEq)]
pub struct WatchProps {
    pub room: AttrValue,
}

/// What the page knows about its room.
#[derive(Clone, PartialEq)]
enum Lookup {
    Loading,
    Found(Room),
    Missing,
    Failed(String),
}

#[function_component(Watch)]
pub fn watch(props: &WatchProps) -> Html {
    let lookup = use_state_eq(|| Lookup::Loading);
    {
        let lookup = lookup.clone();
        use_effect_with(props.room.clone(), move |room| {
            lookup.set(Lookup::Loading);
            let room = room.clone();
            wasm_bindgen_futures::spawn_local(async move {
                lookup.set(match services::api::room(&room).await {
                    Ok(Some(found)) => Lookup::Found(found),
                    Ok(None) => Lookup::Missing,
                    Err(e) => {
                        services::warn(&format!("watch: {e}"));
                        Lookup::Failed(e)
                    }
                });
            });
        });
    }

    let body = match &*lookup {
        Lookup::Loading => html! { <p class="notice" role="status">{"Looking up the room…"}</p> },
        Lookup::Missing => html! {
            <>
                <p class="notice" role="alert">
                    {"There is no open room with this name. It may have been closed; \
                      a stream pushed under this name still plays here."}
                </p>
                <div class="stage">
                    <LivePlayer room={props.room.clone()} />
                </div>
            </>
        },
        Lookup::Failed(e) => html! {
            <p class="notice" role="alert">{"Could not load the room: "}{ e.clone() }</p>
        },
        Lookup::Found(room) => html! {
            <>
                <p class="room-title">
                    if room.live {
                        <span class="badge live">{"LIVE"}</span>
                    } else {
                        <span class="badge idle">{"OFFLINE"}</span>
                    }
                    {" "}{ room.title.clone() }
                </p>
                <div class="stage">
                    <LivePlayer room={AttrValue::from(room.id.clone())} />
                    // Keyed by room so a different room starts with a fresh chat.
                    <Chat key={room.id.clone()} room={AttrValue::from(room.id.clone())}
                        likes={Some(room.likes)} />
                </div>
            </>
        },
    };

    html! {
        <section class="page watch">
            <h1>{"Room "}<span class="room-name">{ props.room.clone() }</span></h1>
            { body }
        </section>
    }
}

/// `/play.html?room=ID`: the old link form, rendered as the watch page of that room.
#[function_component(PlayLink)]
pub fn play_link() -> Html {
    let location = use_location();
    let room = location
        .and_then(|l| l.query::<PlayQuery>().ok())
        .map(|q| q.room)
        .unwrap_or_default();
    if room.is_empty() {
        return html! {
            <section class="page watch">
                <h1>{"No room given"}</h1>
                <p class="notice" role="alert">{"Open a link of the form /play.html?room=ROOM or /watch/ROOM."}</p>
            </section>
        };
    }
    html! { <Watch room={AttrValue::from(room)} /> }
}

#[derive(serde::Deserialize)]
struct PlayQuery {
    #[serde(default)]
    room: String,
}
