//! `use_player`: runs a [`Player`] on a `<video>` while mounted; a new room or new options
//! start a fresh one, and unmounting releases it (socket, MediaSource, object URL).

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::services::player::{Options, Player, Status};

/// The player's latest status and a way to unmute it.
#[derive(Clone)]
pub struct PlayerHandle {
    pub status: Option<Status>,
    pub unmute: Callback<()>,
}

#[hook]
pub fn use_player(video: NodeRef, options: Options) -> PlayerHandle {
    let status = use_state_eq(|| None::<Status>);
    let player = use_mut_ref(|| None::<Player>);
    {
        let status = status.clone();
        let player = player.clone();
        use_effect_with(options, move |options| {
            let on_status = Rc::new(move |s: Status| status.set(Some(s)));
            *player.borrow_mut() = Player::start_on(&video, options.clone(), on_status);
            move || drop(player.borrow_mut().take())
        });
    }
    let unmute = {
        let player: Rc<RefCell<Option<Player>>> = player.clone();
        Callback::from(move |()| {
            if let Some(p) = &*player.borrow() {
                p.unmute();
            }
        })
    };
    PlayerHandle {
        status: (*status).clone(),
        unmute,
    }
}
