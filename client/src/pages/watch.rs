//! `/watch/:room` (and `/play.html?room=…`): the player page: the live video with the chat
//! beside it; `/embed/:room`: the player alone, for other sites' iframes. `?token=T` (a
//! private room's link) goes on every media and chat URL. A stream pushed by name without a
//! room (`--open-publish`, RTMP) still plays for an admin: whether it is live comes from the
//! stream list, which only admins may read.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::chat::Chat;
use crate::components::player::LivePlayer;
use crate::hooks::use_session::use_session;
use crate::services::player::denied_reason;
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
    /// A private room without a valid token: what to tell the viewer.
    Denied(String),
    Failed(String),
}

#[derive(serde::Deserialize, Default)]
struct TokenQuery {
    token: Option<String>,
}

/// The `?token=` of the page, if any.
#[hook]
fn use_token() -> Option<AttrValue> {
    use_location()
        .and_then(|l| l.query::<TokenQuery>().ok())
        .and_then(|q| q.token)
        .filter(|t| !t.is_empty())
        .map(AttrValue::from)
}

/// Looks the room up once per room / token.
#[hook]
fn use_lookup(room: AttrValue, token: Option<AttrValue>) -> Lookup {
    let lookup = use_state_eq(|| Lookup::Loading);
    {
        let lookup = lookup.clone();
        use_effect_with((room, token), move |(room, token)| {
            lookup.set(Lookup::Loading);
            let (room, token) = (room.clone(), token.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let token = token.as_deref();
                lookup.set(match services::api::find_room(&room, token).await {
                    Ok(Some(found)) => Lookup::Found(found),
                    Ok(None) => Lookup::Missing,
                    Err(e) if e.unauthorized() || e.forbidden() => {
                        Lookup::Denied(denied_reason(token.is_some(), &e))
                    }
                    Err(e) => {
                        services::warn(&format!("watch: {e}"));
                        Lookup::Failed(e.to_string())
                    }
                });
            });
        });
    }
    (*lookup).clone()
}

fn denied(why: &str) -> Html {
    html! {
        <p class="notice private" role="alert" data-testid="private-room">{ why.to_string() }</p>
    }
}

#[function_component(Watch)]
pub fn watch(props: &WatchProps) -> Html {
    let token = use_token();
    let lookup = use_lookup(props.room.clone(), token.clone());
    let admin = use_session()
        .state
        .user()
        .is_some_and(|u| u.role == "admin");

    let body = match &lookup {
        Lookup::Loading => html! { <p class="notice" role="status">{"Looking up the room…"}</p> },
        Lookup::Missing if admin => html! {
            <>
                <p class="notice" role="alert">
                    {"There is no open room with this name. It may have been closed; \
                      a stream pushed under this name (--open-publish) still plays here."}
                </p>
                <div class="stage">
                    <LivePlayer room={props.room.clone()} is_room={false} />
                </div>
            </>
        },
        Lookup::Missing => html! {
            <p class="notice" role="alert">
                {"There is no open room with this name. It may have been closed, or the link \
                  may be mistyped."}
            </p>
        },
        Lookup::Denied(why) => denied(why),
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
                    if let Some(owner) = &room.owner {
                        <span class="room-owner">{" · "}{ owner.clone() }</span>
                    }
                </p>
                <div class="stage">
                    <LivePlayer room={AttrValue::from(room.id.clone())} token={token.clone()} />
                    // Keyed by room so a different room starts with a fresh chat.
                    <Chat key={room.id.clone()} room={AttrValue::from(room.id.clone())}
                        token={token.clone()} likes={Some(room.likes)} />
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

/// `/embed/:room[?token=T]`: the player only (no header, no chat), for iframes.
#[function_component(Embed)]
pub fn embed(props: &WatchProps) -> Html {
    let token = use_token();
    let lookup = use_lookup(props.room.clone(), token.clone());
    let body = match &lookup {
        Lookup::Loading => html! { <p class="notice" role="status">{"Loading…"}</p> },
        Lookup::Missing => {
            html! { <p class="notice" role="alert">{"There is no open room with this name."}</p> }
        }
        Lookup::Denied(why) => denied(why),
        Lookup::Failed(e) => html! {
            <p class="notice" role="alert">{"Could not load the room: "}{ e.clone() }</p>
        },
        Lookup::Found(room) => html! {
            <LivePlayer room={AttrValue::from(room.id.clone())} token={token.clone()} />
        },
    };
    html! { <div class="embed" data-testid="embed">{ body }</div> }
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
