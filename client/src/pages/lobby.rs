//! `/`: the lobby. Live rooms first (title, streamer, viewers, likes, a LIVE badge), then the
//! public rooms that are not live right now; refreshed every few seconds by `use_rooms`.
//! Signed in as a streamer: "My rooms" (every visibility) with a way to the studio.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::hooks::use_my_rooms::{MyRooms, use_my_rooms};
use crate::hooks::use_rooms::{RoomsState, use_rooms};
use crate::hooks::use_session::use_session;
use crate::services::api::Room;

fn room_card(room: &Room, mine: bool) -> Html {
    html! {
        <li class="room-card" key={room.id.clone()}>
            <Link<Route> to={Route::Watch { room: room.id.clone() }} classes="room-link">
                if room.live {
                    <span class="badge live">{"LIVE"}</span>
                } else {
                    <span class="badge idle">{"OFFLINE"}</span>
                }
                <span class="room-title-text">{ room.title.clone() }</span>
                if let Some(owner) = &room.owner {
                    <span class="room-owner">{"by "}{ owner.clone() }</span>
                }
            </Link<Route>>
            <span class="room-stats">
                if room.live {
                    <span>{ room.viewers }{" watching"}</span>
                }
                <span>{"♥ "}{ room.likes }</span>
                if mine {
                    <span class="visibility">{ room.visibility.clone() }</span>
                }
            </span>
        </li>
    }
}

#[function_component(Lobby)]
pub fn lobby() -> Html {
    let state = use_rooms();
    let session = use_session();
    let streamer = session.state.user().is_some_and(|u| u.can_stream());
    let (mine, _) = use_my_rooms(streamer);
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
                        {"To go live, "}
                        if session.state.user().is_none() {
                            <Link<Route> to={Route::SignIn}>{"sign in"}</Link<Route>>{" and "}
                        }
                        {"open the "}
                        <Link<Route> to={Route::Studio}>{"studio"}</Link<Route>>
                        {" to create a room, then push with OBS / ffmpeg to "}
                        <code>{"rtmp://HOST:1935/live/ROOM?key=KEY"}</code>{"."}
                    </p>
                </div>
            } else {
                <ul class="rooms live-rooms" aria-label="Live rooms">
                    { for live.iter().map(|r| room_card(r, false)) }
                </ul>
            }
            if let MyRooms::Loaded(mine) = &mine {
                <h2>{"My rooms"}</h2>
                if mine.is_empty() {
                    <p class="hint">{"No room yet: "}<Link<Route> to={Route::Studio}>{"go live"}</Link<Route>>{" to make one."}</p>
                } else {
                    <ul class="rooms my-rooms" aria-label="My rooms">
                        { for mine.iter().map(|r| room_card(r, true)) }
                    </ul>
                    <p class="hint"><Link<Route> to={Route::Studio}>{"Manage them in the studio"}</Link<Route>></p>
                }
            }
            if !idle.is_empty() {
                <h2>{"Rooms"}</h2>
                <ul class="rooms idle-rooms" aria-label="Other rooms">
                    { for idle.iter().map(|r| room_card(r, false)) }
                </ul>
            }
        </section>
    }
}
