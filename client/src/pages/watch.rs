//! `/watch/:room` (and `/play.html?room=…`): the player page. The MSE player lands with the
//! player issue; until then it names the room and says what is coming.

use yew::prelude::*;
use yew_router::prelude::*;

#[derive(Properties, PartialEq)]
pub struct WatchProps {
    pub room: AttrValue,
}

#[function_component(Watch)]
pub fn watch(props: &WatchProps) -> Html {
    html! {
        <section class="page watch">
            <h1>{"Room "}<span class="room-name">{ props.room.clone() }</span></h1>
            <p class="notice" role="status">
                {"Coming soon: the live player with comments, likes and gifts over the video."}
            </p>
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
