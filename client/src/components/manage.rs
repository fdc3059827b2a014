//! Managing one's own room (owner or admin): visibility, a new stream key (shown once),
//! closing it, naming moderators, and for a private room a viewer link (a signed token)
//! with a Copy button.

use std::future::Future;

use yew::prelude::*;

use crate::services::api::{self, ApiError, Created, Room};
use crate::services::{self, session};

/// How long a viewer link lasts (the server's default too).
const LINK_TTL_S: u64 = 86_400;
const VISIBILITIES: [(&str, &str); 3] = [
    ("public", "Public: listed in the lobby"),
    ("unlisted", "Unlisted: anyone with the link"),
    ("private", "Private: viewers need a link from you"),
];

#[derive(Properties, PartialEq)]
pub struct ManageProps {
    pub room: Room,
    /// The room changed (or was closed): reload the list.
    pub on_changed: Callback<()>,
    /// A new stream key from a rotation.
    pub on_key: Callback<Created>,
}

/// The last thing an action said.
#[derive(Clone, PartialEq)]
enum Note {
    None,
    Busy,
    Done(String),
    Failed(String),
}

/// Runs `action` with the note showing busy, then its outcome; `then` on success.
fn run<T: 'static, F: Future<Output = Result<T, ApiError>> + 'static>(
    note: &UseStateHandle<Note>,
    action: F,
    then: impl FnOnce(T) -> String + 'static,
) {
    let note = note.clone();
    note.set(Note::Busy);
    wasm_bindgen_futures::spawn_local(async move {
        match action.await {
            Ok(value) => note.set(Note::Done(then(value))),
            Err(e) => {
                services::warn(&format!("room: {e}"));
                note.set(Note::Failed(e.to_string()));
            }
        }
    });
}

#[function_component(ManageRoom)]
pub fn manage_room(props: &ManageProps) -> Html {
    let note = use_state(|| Note::None);
    let moderator = use_state(String::new);
    let link = use_state(|| None::<String>);
    let id = props.room.id.clone();
    // The managed view (`GET /api/rooms/ID` as its owner) has the moderators; room lists
    // may not. Fetched again after every moderator change.
    let moderators = use_state(|| props.room.moderators.clone());
    let generation = use_state(|| 0u32);
    {
        let moderators = moderators.clone();
        use_effect_with((id.clone(), *generation), move |(id, _)| {
            let id = id.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::room(&id, None).await {
                    Ok(room) => moderators.set(room.moderators),
                    Err(e) => services::warn(&format!("room {id}: {e}")),
                }
            });
        });
    }
    let refresh = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };

    let on_visibility = {
        let (note, id, changed) = (note.clone(), id.clone(), props.on_changed.clone());
        Callback::from(move |e: Event| {
            let value = services::studio::select_value(&e);
            let (id, changed) = (id.clone(), changed.clone());
            run(
                &note,
                async move { api::set_visibility(&id, &value).await },
                move |room| {
                    changed.emit(());
                    format!("The room is now {}.", room.visibility)
                },
            );
        })
    };
    let on_rotate = {
        let (note, id, on_key) = (note.clone(), id.clone(), props.on_key.clone());
        Callback::from(move |_: MouseEvent| {
            let (id, on_key) = (id.clone(), on_key.clone());
            run(
                &note,
                async move { api::rotate_key(&id).await },
                move |created| {
                    on_key.emit(created);
                    "New stream key made: the old one no longer works.".into()
                },
            );
        })
    };
    let on_close = {
        let (note, id, changed) = (note.clone(), id.clone(), props.on_changed.clone());
        Callback::from(move |_: MouseEvent| {
            let (id, changed) = (id.clone(), changed.clone());
            run(
                &note,
                async move { api::close_room(&id).await },
                move |()| {
                    changed.emit(());
                    "Room closed.".into()
                },
            );
        })
    };
    let on_moderator_input = {
        let moderator = moderator.clone();
        Callback::from(move |e: InputEvent| moderator.set(services::dom::input_value(&e)))
    };
    let on_add_moderator = {
        let (note, id, changed) = (note.clone(), id.clone(), refresh.clone());
        let moderator = moderator.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let name = moderator.trim().to_string();
            if name.is_empty() {
                return;
            }
            let (id, changed, moderator) = (id.clone(), changed.clone(), moderator.clone());
            let added = name.clone();
            run(
                &note,
                async move { api::add_moderator(&id, &name).await },
                move |()| {
                    moderator.set(String::new());
                    changed.emit(());
                    format!("{added} is now a moderator.")
                },
            );
        })
    };
    let remove_moderator = |name: String| {
        let (note, id, changed) = (note.clone(), id.clone(), refresh.clone());
        Callback::from(move |_: MouseEvent| {
            let (id, changed, name) = (id.clone(), changed.clone(), name.clone());
            let removed = name.clone();
            run(
                &note,
                async move { api::remove_moderator(&id, &name).await },
                move |()| {
                    changed.emit(());
                    format!("{removed} is no longer a moderator.")
                },
            );
        })
    };
    let on_link = {
        let (note, id, link) = (note.clone(), id.clone(), link.clone());
        Callback::from(move |_: MouseEvent| {
            let (id, link) = (id.clone(), link.clone());
            run(
                &note,
                async move { api::create_token(&id, LINK_TTL_S).await },
                move |t| {
                    link.set(Some(t.play.page));
                    "Viewer link made: it works for 24 hours.".into()
                },
            );
        })
    };
    let on_copy = {
        let (note, link) = (note.clone(), link.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(text) = (*link).clone() {
                let note = note.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    note.set(if session::copy(&text).await {
                        Note::Done("Link copied.".into())
                    } else {
                        Note::Failed("Could not copy: select the link and copy it.".into())
                    });
                });
            }
        })
    };

    let room = &props.room;
    let busy = *note == Note::Busy;
    let moderators = (*moderators).clone().unwrap_or_default();
    html! {
        <div class="manage-room" role="region" aria-label="Manage room">
            <h3>{"Manage "}{ room.title.clone() }</h3>
            <label for="room-visibility">{"Visibility"}</label>
            <select id="room-visibility" onchange={on_visibility} disabled={busy}>
                { for VISIBILITIES.iter().map(|(v, label)| html! {
                    <option value={*v} selected={room.visibility == *v}>{ *label }</option>
                }) }
            </select>
            <div class="manage-actions">
                <button type="button" onclick={on_rotate} disabled={busy}>{"New stream key"}</button>
                <button type="button" class="danger" onclick={on_close} disabled={busy}>{"Close room"}</button>
                if room.visibility == "private" {
                    <button type="button" onclick={on_link} disabled={busy}>{"Create viewer link"}</button>
                }
            </div>
            if let Some(url) = (*link).clone() {
                <p class="viewer-link">
                    <a href={url.clone()} data-testid="viewer-link">{ url }</a>
                    {" "}<button type="button" onclick={on_copy}>{"Copy"}</button>
                </p>
            }
            <h4>{"Moderators"}</h4>
            if moderators.is_empty() {
                <p class="hint">{"No moderators yet."}</p>
            }
            <ul class="moderators">
                { for moderators.into_iter().map(|name| html! {
                    <li key={name.clone()}>
                        { name.clone() }{" "}
                        <button type="button" aria-label={format!("Remove {name}")}
                            onclick={remove_moderator(name.clone())} disabled={busy}>{"Remove"}</button>
                    </li>
                }) }
            </ul>
            <form class="add-moderator" onsubmit={on_add_moderator}>
                <label for="moderator-name">{"Add moderator (user name)"}</label>
                <input id="moderator-name" type="text" maxlength="32" value={(*moderator).clone()}
                    oninput={on_moderator_input} />
                <button type="submit" disabled={busy}>{"Add"}</button>
            </form>
            { match &*note {
                Note::None => html! {},
                Note::Busy => html! { <p class="hint" role="status">{"Working…"}</p> },
                Note::Done(text) => html! { <p class="hint" role="status">{ text.clone() }</p> },
                Note::Failed(text) => html! { <p class="form-error" role="alert">{ text.clone() }</p> },
            } }
        </div>
    }
}
