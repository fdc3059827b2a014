//! `/`: the lobby. Live rooms first (title, viewers, likes, a LIVE badge), then the open rooms
//! that are not live right now; refreshed every few seconds by `use_rooms`.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::hooks::use_rooms::{RoomsState, use_rooms};
use crate::services::api::Room;

fn room_card(room: &Room) -> Html {
    html! {
        <li class="room-card" key={room.id.clone()}>
            <Link<Route> to={Route::Watch { room: room.id.clone() }} classes="room-link">
                if room.live {
                    <span class="badge live">{"LIVE"}</span>
                } else {
                    <span class="badge idle">{"OFFLINE"}</span>
                }
                <span class="room-title-text">{ room.title.clone() }</span>
            </Link<Route>>
            <span class="room-stats">
                if room.live {
                    <span>{ room.viewers }{" watching"}</span>
                }
                <span>{"♥ "}{ room.likes }</span>
            </span>
        </li>
    }
}

#[function_component(Lobby)]
pub fn lobby() -> Html {
    let state = use_rooms();
    let (rooms, error, loading) = match &state {
        RoomsState::Loading => (&[][..], None, true),
        RoomsState::Loaded(rooms) => (&rooms[..], None, false),
        RoomsState::Failed { error, rooms } => (&rooms[..], Some(error.clone()), false),
    };
    let live: Vec<&Room> = rooms.iter().filter(|r| r.live).collect();
    let idle: Vec<&Room> = rooms.iter().filter(|r| !r.live).collect();

    html! {
        <section class="page lobby">
            <h1>{"Live now"}</h1>
            if let Some(error) = error {
                <p class="notice" role="alert">{"Could not refresh the rooms: "}{ error }</p>
            }
            if loading {
                <p class="notice" role="status">{"Loading rooms…"}</p>
            } else if live.is_empty() {
                <div class="notice empty" role="status">
                    <p>{"Nobody is live right now."}</p>
                    <p>
                        {"To go live, open the "}
                        <Link<Route> to={Route::Studio}>{"studio"}</Link<Route>>
                        {" to create a room, then push with OBS / ffmpeg to "}
                        <code>{"rtmp://HOST:1935/live/ROOM?key=KEY"}</code>{"."}
                    </p>
                </div>
            } else {
                <ul class="rooms live-rooms" aria-label="Live rooms">
                    { for live.iter().map(|r| room_card(r)) }
                </ul>
            }
            if !idle.is_empty() {
                <h2>{"Rooms"}</h2>
                <ul class="rooms idle-rooms" aria-label="Other rooms">
                    { for idle.iter().map(|r| room_card(r)) }
                </ul>
            }
        </section>
    }
}
