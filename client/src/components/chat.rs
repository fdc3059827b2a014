//! The chat overlay: comments (newest at the bottom, auto-scrolled), a comment box, the Like
//! button with floating hearts, gift buttons with a short animation, and the viewer count.
//!
//! Every piece of user text is rendered as a text node (`{text}` in `html!`), never as HTML.

use onair_shared::chat::{self, ClientMessage, GIFTS};
use yew::prelude::*;

use crate::hooks::use_chat::{GiftBurst, Link, use_chat};
use crate::services;

#[derive(Properties, PartialEq)]
pub struct ChatProps {
    pub room: AttrValue,
    /// A private room's play token.
    #[prop_or_default]
    pub token: Option<AttrValue>,
    /// The like total from the room list, shown until the chat reports a newer one.
    #[prop_or_default]
    pub likes: Option<u64>,
}

/// The emoji drawn for a gift kind of the catalogue.
fn gift_emoji(kind: &str) -> &'static str {
    match kind {
        "rose" => "🌹",
        "heart" => "💖",
        "star" => "⭐",
        "rocket" => "🚀",
        _ => "🎁",
    }
}

/// A heart's horizontal drift and duration, varied by id so hearts do not stack exactly.
fn heart_style(id: u64) -> String {
    let x = (id * 37) % 60;
    let ms = 1600 + (id * 53) % 700;
    format!("--drift: {x}px; animation-duration: {ms}ms;")
}

#[function_component(Chat)]
pub fn chat(props: &ChatProps) -> Html {
    let name = use_state(|| AttrValue::from(services::random_name()));
    let name_draft = use_state(|| (*name).to_string());
    let draft = use_state(String::new);
    let local_notice = use_state(|| None::<String>);
    let chat = use_chat(props.room.clone(), props.token.clone(), (*name).clone());
    let state = &*chat.state;
    let list_ref = use_node_ref();

    // Keep the newest comment in view, unless the reader scrolled up to older ones.
    let follow = use_mut_ref(|| true);
    {
        let list_ref = list_ref.clone();
        let follow = follow.clone();
        let last = state.comments.back().map(|c| c.id);
        use_effect_with(last, move |_| {
            if *follow.borrow() {
                services::dom::scroll_to_bottom(&list_ref);
            }
        });
    }
    let on_scroll = {
        let list_ref = list_ref.clone();
        Callback::from(move |_: Event| {
            *follow.borrow_mut() = services::dom::is_near_bottom(&list_ref);
        })
    };

    let joined = state.link == Link::Joined;
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| draft.set(services::dom::input_value(&e)))
    };
    let on_submit = {
        let draft = draft.clone();
        let send = chat.send.clone();
        let local_notice = local_notice.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match chat::check_comment(&draft) {
                Ok(text) => {
                    send.emit(ClientMessage::Comment {
                        text: text.to_string(),
                    });
                    draft.set(String::new());
                    local_notice.set(None);
                }
                Err(e) => local_notice.set(Some(e.to_string())),
            }
        })
    };
    let on_like = {
        let send = chat.send.clone();
        Callback::from(move |_: MouseEvent| send.emit(ClientMessage::Like { count: 1 }))
    };
    let on_name_input = {
        let name_draft = name_draft.clone();
        Callback::from(move |e: InputEvent| name_draft.set(services::dom::input_value(&e)))
    };
    // Commit the name on change (Enter or leaving the field): rejoining under it reconnects.
    let on_name_change = {
        let name = name.clone();
        let name_draft = name_draft.clone();
        let local_notice = local_notice.clone();
        Callback::from(move |_: Event| match chat::check_name(&name_draft) {
            Ok(valid) if valid != name.as_str() => {
                name.set(AttrValue::from(valid.to_string()));
                local_notice.set(None);
            }
            Ok(_) => {}
            Err(e) => local_notice.set(Some(e.to_string())),
        })
    };

    let status = match state.link {
        Link::Connecting => "Connecting…".to_string(),
        Link::Joined => match &state.you {
            Some(you) => format!("Chatting as {you}"),
            None => "Connected".to_string(),
        },
        Link::Reconnecting { retry_in_ms } => {
            format!(
                "Connection lost; retrying in {:.1} s",
                f64::from(retry_in_ms) / 1000.0
            )
        }
        Link::Ended => "This room has been closed.".to_string(),
    };
    let likes = state.likes.or(props.likes).unwrap_or(0);
    let viewers = state.viewers.unwrap_or(0);
    let notice = (*local_notice).clone().or_else(|| state.notice.clone());

    html! {
        <aside class="chat" aria-label="Chat">
            <div class="chat-head">
                <span class="viewers" data-testid="viewers">
                    { viewers }{" watching"}
                </span>
                <span class="link-status" role="status">{ status }</span>
            </div>
            <ol class="comments" aria-label="Chat messages" ref={list_ref}
                onscroll={on_scroll}>
                { for state.comments.iter().map(|c| html! {
                    <li class="comment" key={c.id} data-testid="comment">
                        <span class="from">{ c.from.clone() }</span>
                        {" "}
                        <span class="text">{ c.text.clone() }</span>
                    </li>
                }) }
            </ol>
            if let Some(notice) = notice {
                <p class="chat-notice" role="alert">{ notice }</p>
            }
            <form class="compose" onsubmit={on_submit}>
                <label for="chat-comment" class="sr-only">{"Comment"}</label>
                <input id="chat-comment" type="text" autocomplete="off"
                    maxlength={chat::MAX_COMMENT_CHARS.to_string()}
                    placeholder="Say something…" value={(*draft).clone()} oninput={on_input} />
                <button type="submit" disabled={!joined}>{"Send"}</button>
            </form>
            <div class="reactions">
                <button type="button" class="like" onclick={on_like} disabled={!joined}>
                    <span aria-hidden="true">{"♥ "}</span>{"Like"}
                </button>
                <span class="likes" title="likes" data-testid="likes">{ likes }</span>
                <span class="gift-buttons">
                    { for GIFTS.iter().map(|kind| {
                        let send = chat.send.clone();
                        let onclick = Callback::from(move |_: MouseEvent| {
                            send.emit(ClientMessage::Gift { kind: kind.to_string(), count: 1 })
                        });
                        html! {
                            <button type="button" class="gift" aria-label={*kind}
                                disabled={!joined} {onclick}>
                                <span aria-hidden="true">{ gift_emoji(kind) }</span>
                                <span class="gift-name" aria-hidden="true">{ *kind }</span>
                            </button>
                        }
                    }) }
                </span>
            </div>
            <div class="name-row">
                <label for="chat-name">{"Name"}</label>
                <input id="chat-name" type="text" autocomplete="nickname"
                    maxlength={chat::MAX_NAME_CHARS.to_string()} value={(*name_draft).clone()}
                    oninput={on_name_input} onchange={on_name_change} />
            </div>
            <div class="hearts" aria-hidden="true">
                { for state.hearts.iter().map(|&id| {
                    let done = chat.heart_done.reform(move |_: AnimationEvent| id);
                    html! {
                        <span class="heart" key={id} data-testid="heart" style={heart_style(id)}
                            onanimationend={done}>{"❤"}</span>
                    }
                }) }
            </div>
            <div class="gift-bursts" aria-live="polite">
                { for state.gifts.iter().map(|g| gift_burst(g, &chat.gift_done)) }
            </div>
        </aside>
    }
}

fn gift_burst(gift: &GiftBurst, done: &Callback<u64>) -> Html {
    let id = gift.id;
    let done = done.reform(move |_: AnimationEvent| id);
    html! {
        <div class="gift-burst" key={id} data-testid="gift" onanimationend={done}>
            <span class="gift-emoji" aria-hidden="true">{ gift_emoji(&gift.kind) }</span>
            <span>{ gift.from.clone() }{" sent "}{ gift.kind.clone() }</span>
            if gift.count > 1 {
                <span>{" ×"}{ gift.count }</span>
            }
        </div>
    }
}
