//! `use_chat`: one room's chat state, driven by a [`ChatConnection`] the hook owns.
//!
//! The connection is opened when the component mounts (or the room / name changes) and
//! dropped — socket closed, retries cancelled — when it unmounts.

use std::collections::VecDeque;
use std::rc::Rc;

use onair_shared::chat::{ClientMessage, Comment, ServerMessage};
use yew::prelude::*;

use crate::services::chat::{ChatConnection, ChatEvent};

/// Comments kept on screen; older ones scroll away for good.
pub const MAX_COMMENTS: usize = 200;
/// Hearts floating at once; a flood of likes does not flood the DOM.
pub const MAX_HEARTS: usize = 30;
/// Hearts spawned for one `likes` update, however large its delta.
const HEARTS_PER_UPDATE: u64 = 8;
/// Gift animations shown at once.
pub const MAX_GIFTS: usize = 4;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Joined,
    Reconnecting {
        retry_in_ms: u32,
    },
    /// The room was closed; the chat is read-only.
    Ended,
}

/// A gift being animated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftBurst {
    pub id: u64,
    pub from: String,
    pub kind: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatState {
    pub link: Link,
    /// The name the server accepted.
    pub you: Option<String>,
    pub viewers: Option<u32>,
    /// The room's like total, once the server has sent one.
    pub likes: Option<u64>,
    /// Oldest first.
    pub comments: VecDeque<Comment>,
    /// Ids of the hearts on screen.
    pub hearts: VecDeque<u64>,
    pub gifts: VecDeque<GiftBurst>,
    /// The last refusal from the server (rate limit, bad comment…).
    pub notice: Option<String>,
    /// Source of ids for hearts and gifts (keys for the animations).
    next_id: u64,
}

impl Default for ChatState {
    fn default() -> Self {
        Self {
            link: Link::Connecting,
            you: None,
            viewers: None,
            likes: None,
            comments: VecDeque::new(),
            hearts: VecDeque::new(),
            gifts: VecDeque::new(),
            notice: None,
            next_id: 0,
        }
    }
}

/// What changes the chat state.
pub enum Action {
    Event(ChatEvent),
    HeartDone(u64),
    GiftDone(u64),
}

impl ChatState {
    fn add_comment(&mut self, comment: Comment) {
        // Ids increase, so anything not newer than the last one is a replay after reconnect.
        if self
            .comments
            .back()
            .is_some_and(|last| comment.id <= last.id)
        {
            return;
        }
        self.comments.push_back(comment);
        while self.comments.len() > MAX_COMMENTS {
            self.comments.pop_front();
        }
    }

    fn message(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Welcome {
                you,
                viewers,
                recent,
                ..
            } => {
                self.link = Link::Joined;
                self.you = Some(you);
                self.viewers = Some(viewers);
                self.notice = None;
                for comment in recent {
                    self.add_comment(comment);
                }
            }
            ServerMessage::Comment(comment) => self.add_comment(comment),
            ServerMessage::Likes { delta, total } => {
                self.likes = Some(total);
                for _ in 0..delta.min(HEARTS_PER_UPDATE) {
                    self.hearts.push_back(self.next_id);
                    self.next_id += 1;
                }
                while self.hearts.len() > MAX_HEARTS {
                    self.hearts.pop_front();
                }
            }
            ServerMessage::Gift { from, kind, count } => {
                self.gifts.push_back(GiftBurst {
                    id: self.next_id,
                    from,
                    kind,
                    count,
                });
                self.next_id += 1;
                while self.gifts.len() > MAX_GIFTS {
                    self.gifts.pop_front();
                }
            }
            ServerMessage::Viewers { count } => self.viewers = Some(count),
            ServerMessage::Closed => self.link = Link::Ended,
            ServerMessage::Error { message, .. } => self.notice = Some(message),
        }
    }
}

impl Reducible for ChatState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Event(ChatEvent::Connecting) => {
                if next.link != Link::Ended {
                    next.link = Link::Connecting;
                }
            }
            Action::Event(ChatEvent::Dropped { retry_in_ms }) => {
                next.link = Link::Reconnecting { retry_in_ms };
            }
            Action::Event(ChatEvent::Ended) => next.link = Link::Ended,
            Action::Event(ChatEvent::Message(message)) => next.message(message),
            Action::HeartDone(id) => next.hearts.retain(|h| *h != id),
            Action::GiftDone(id) => next.gifts.retain(|g| g.id != id),
        }
        Rc::new(next)
    }
}

/// The chat state plus ways to act on it.
#[derive(Clone)]
pub struct UseChat {
    pub state: UseReducerHandle<ChatState>,
    /// Sends a message to the room.
    pub send: Callback<ClientMessage>,
    /// An animation finished: drop its element.
    pub heart_done: Callback<u64>,
    pub gift_done: Callback<u64>,
}

/// Joins `room` as `name` for as long as the calling component is mounted.
#[hook]
pub fn use_chat(room: AttrValue, token: Option<AttrValue>, name: AttrValue) -> UseChat {
    let state = use_reducer(ChatState::default);
    // The connection lives here so `send` can reach it; replaced when room or name change.
    let connection = use_mut_ref(|| None::<ChatConnection>);
    {
        let state = state.clone();
        let connection = connection.clone();
        use_effect_with((room, token, name), move |(room, token, name)| {
            let on_event = {
                let state = state.clone();
                Callback::from(move |event| state.dispatch(Action::Event(event)))
            };
            *connection.borrow_mut() = Some(ChatConnection::open(
                room,
                token.as_deref(),
                name.to_string(),
                on_event,
            ));
            // Dropping the connection closes the socket and cancels pending retries.
            move || drop(connection.borrow_mut().take())
        });
    }
    let send = {
        let connection = connection.clone();
        Callback::from(move |message| {
            if let Some(connection) = connection.borrow().as_ref() {
                connection.send(message);
            }
        })
    };
    let heart_done = {
        let state = state.clone();
        Callback::from(move |id| state.dispatch(Action::HeartDone(id)))
    };
    let gift_done = {
        let state = state.clone();
        Callback::from(move |id| state.dispatch(Action::GiftDone(id)))
    };
    UseChat {
        state,
        send,
        heart_done,
        gift_done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: u64) -> Comment {
        Comment {
            id,
            from: "ann".into(),
            text: format!("c{id}"),
            at: id,
        }
    }

    fn apply(state: Rc<ChatState>, message: ServerMessage) -> Rc<ChatState> {
        state.reduce(Action::Event(ChatEvent::Message(message)))
    }

    #[test]
    fn welcome_replay_after_reconnect_is_not_duplicated() {
        let welcome = |recent| ServerMessage::Welcome {
            you: "bob".into(),
            viewers: 2,
            recent,
            version: 1,
        };
        let s = apply(Rc::default(), welcome(vec![comment(1), comment(2)]));
        let s = apply(s, ServerMessage::Comment(comment(3)));
        let s = s.reduce(Action::Event(ChatEvent::Dropped { retry_in_ms: 500 }));
        assert_eq!(s.link, Link::Reconnecting { retry_in_ms: 500 });
        let s = apply(s, welcome(vec![comment(2), comment(3), comment(4)]));
        let ids: Vec<u64> = s.comments.iter().map(|c| c.id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(s.link, Link::Joined);
        assert_eq!(s.you.as_deref(), Some("bob"));
    }

    #[test]
    fn comments_hearts_and_gifts_are_bounded() {
        let mut s = Rc::<ChatState>::default();
        for id in 1..=(MAX_COMMENTS as u64 + 10) {
            s = apply(s, ServerMessage::Comment(comment(id)));
        }
        assert_eq!(s.comments.len(), MAX_COMMENTS);
        assert_eq!(s.comments.front().map(|c| c.id), Some(11));
        for total in 1..=20 {
            s = apply(
                s,
                ServerMessage::Likes {
                    delta: 1_000,
                    total,
                },
            );
        }
        assert_eq!(s.likes, Some(20));
        assert_eq!(s.hearts.len(), MAX_HEARTS);
        let first = s.hearts[0];
        s = s.reduce(Action::HeartDone(first));
        assert_eq!(s.hearts.len(), MAX_HEARTS - 1);
        for _ in 0..10 {
            s = apply(
                s,
                ServerMessage::Gift {
                    from: "ann".into(),
                    kind: "rose".into(),
                    count: 1,
                },
            );
        }
        assert_eq!(s.gifts.len(), MAX_GIFTS);
    }

    #[test]
    fn closed_room_stays_ended() {
        let s = apply(Rc::default(), ServerMessage::Closed);
        let s = s.reduce(Action::Event(ChatEvent::Connecting));
        assert_eq!(s.link, Link::Ended);
    }
}
