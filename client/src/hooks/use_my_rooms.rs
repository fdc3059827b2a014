//! `use_my_rooms`: the signed-in streamer's rooms (`GET /api/rooms?mine=1`), fetched while
//! `enabled`, again on demand (after a change), and every [`POLL_MS`] for their live state.
//! A 401 means the session ended: the page then shows itself signed out.

use yew::prelude::*;

use crate::hooks::use_session::use_session;
use crate::services::{self, Interval, api::Room};

const POLL_MS: u32 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum MyRooms {
    Loading,
    Loaded(Vec<Room>),
    Failed(String),
}

/// The rooms, and a callback that fetches them again.
#[hook]
pub fn use_my_rooms(enabled: bool) -> (MyRooms, Callback<()>) {
    let state = use_state_eq(|| MyRooms::Loading);
    let generation = use_state(|| 0u32);
    let set_session = use_session().set;
    {
        let state = state.clone();
        use_effect_with((enabled, *generation), move |(enabled, _)| {
            let poll = enabled.then(|| {
                let fetch = move || {
                    let (state, set_session) = (state.clone(), set_session.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        match services::api::my_rooms().await {
                            Ok(rooms) => state.set(MyRooms::Loaded(rooms)),
                            // The session ended (expired, signed out elsewhere): say so.
                            Err(e) if e.unauthorized() => set_session.emit(None),
                            Err(e) => {
                                services::warn(&format!("my rooms: {e}"));
                                // Keep a list already shown; say so only if there is none.
                                if !matches!(*state, MyRooms::Loaded(_)) {
                                    state.set(MyRooms::Failed(e.to_string()));
                                }
                            }
                        }
                    });
                };
                fetch();
                Interval::new(POLL_MS, fetch)
            });
            // Dropping the interval stops the polling.
            move || drop(poll)
        });
    }
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    ((*state).clone(), reload)
}
