//! `use_rooms`: the room list, fetched now and every [`POLL_MS`] while mounted.

use yew::prelude::*;

use crate::services::{self, Interval, api::Room};

/// How often the lobby refreshes.
const POLL_MS: u32 = 5_000;

/// What the lobby knows about the rooms.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomsState {
    Loading,
    Loaded(Vec<Room>),
    /// The last fetch failed; the last good list (if any) is kept.
    Failed {
        error: String,
        rooms: Vec<Room>,
    },
}

#[hook]
pub fn use_rooms() -> RoomsState {
    let state = use_state_eq(|| RoomsState::Loading);
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            let fetch = move || {
                let state = state.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let next = match services::api::rooms().await {
                        Ok(rooms) => RoomsState::Loaded(rooms),
                        Err(error) => {
                            services::warn(&format!("lobby: {error}"));
                            let rooms = match &*state {
                                RoomsState::Loaded(rooms) | RoomsState::Failed { rooms, .. } => {
                                    rooms.clone()
                                }
                                RoomsState::Loading => Vec::new(),
                            };
                            RoomsState::Failed {
                                error: error.to_string(),
                                rooms,
                            }
                        }
                    };
                    // Setting a handle after unmount is a no-op, so a late answer is harmless.
                    state.set(next);
                });
            };
            fetch();
            let poll = Interval::new(POLL_MS, fetch);
            // Dropping the interval on unmount stops the polling.
            move || drop(poll)
        });
    }
    (*state).clone()
}
