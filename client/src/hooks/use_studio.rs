//! `use_studio`: one broadcast at a time, driven by a [`Studio`] the hook owns.
//!
//! `start` replaces any running broadcast; `stop` and unmounting drop it, which stops the
//! camera / screen tracks, closes the encoders and the socket. The preview `<video>` given
//! by the page is attached to the capture while it runs.

use std::rc::Rc;

use yew::prelude::*;

use crate::services::Interval;
use crate::services::studio::{self, LinkState, Settings, Stats, Studio, StudioError, StudioEvent};

/// What the page shows about the broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct StudioView {
    pub state: LinkState,
    pub stats: Option<Stats>,
    pub error: Option<StudioError>,
    /// Whether a broadcast is running (from Go live until Stop or a failure).
    pub running: bool,
    preview: Option<web_sys::MediaStream>,
}

impl Default for StudioView {
    fn default() -> Self {
        Self {
            state: LinkState::Stopped,
            stats: None,
            error: None,
            running: false,
            preview: None,
        }
    }
}

pub enum Action {
    Started,
    Event(StudioEvent),
    Stopped,
}

impl Reducible for StudioView {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Started => {
                next = StudioView {
                    state: LinkState::Starting,
                    running: true,
                    ..StudioView::default()
                };
            }
            Action::Stopped => {
                next.running = false;
                next.state = LinkState::Stopped;
                next.preview = None;
            }
            // Late events from a broadcast that was already stopped are ignored.
            Action::Event(_) if !next.running => return self,
            Action::Event(StudioEvent::State(state)) => {
                next.state = state;
                if state == LinkState::Stopped {
                    next.running = false;
                    next.preview = None;
                }
            }
            Action::Event(StudioEvent::Stats(stats)) => next.stats = Some(stats),
            Action::Event(StudioEvent::Preview(stream)) => next.preview = Some(stream),
            Action::Event(StudioEvent::Failed(error)) => {
                next.error = Some(error);
                next.running = false;
                next.state = LinkState::Stopped;
                next.preview = None;
            }
        }
        Rc::new(next)
    }
}

#[derive(Clone)]
pub struct UseStudio {
    pub view: UseReducerHandle<StudioView>,
    pub start: Callback<Settings>,
    pub stop: Callback<()>,
    /// Viewers of the room's stream (all protocols), polled while live.
    pub viewers: Option<u64>,
}

/// How often the viewer count is refreshed while live.
const VIEWERS_POLL_MS: u32 = 3_000;

#[hook]
pub fn use_studio(preview: NodeRef, room: Option<String>) -> UseStudio {
    let view = use_reducer(StudioView::default);
    let viewers = use_state_eq(|| None::<u64>);
    {
        let viewers = viewers.clone();
        use_effect_with((view.running, room), move |(running, room)| {
            let poll = match (running, room) {
                (true, Some(room)) => {
                    let room = room.clone();
                    let fetch = move || {
                        let (room, viewers) = (room.clone(), viewers.clone());
                        wasm_bindgen_futures::spawn_local(async move {
                            match studio::room::stream_viewers(&room).await {
                                Ok(n) => viewers.set(n),
                                Err(e) => crate::services::warn(&format!("studio: viewers: {e}")),
                            }
                        });
                    };
                    fetch();
                    Some(Interval::new(VIEWERS_POLL_MS, fetch))
                }
                _ => None,
            };
            // Dropping the interval stops the polling.
            move || drop(poll)
        });
    }
    let running = use_mut_ref(|| None::<Studio>);
    {
        // Dropping the studio on unmount releases the camera, encoders and socket.
        let running = running.clone();
        use_effect_with((), move |_| move || drop(running.borrow_mut().take()));
    }
    {
        let stream = view.preview.clone();
        use_effect_with(stream, move |stream| {
            studio::attach_preview(&preview, stream.as_ref());
        });
    }
    {
        // A failure or a stop from the engine's side: release what it still holds.
        let running = running.clone();
        use_effect_with(view.running, move |is_running| {
            if !*is_running {
                drop(running.borrow_mut().take());
            }
        });
    }
    let start = {
        let view = view.clone();
        let running = running.clone();
        Callback::from(move |settings: Settings| {
            drop(running.borrow_mut().take());
            view.dispatch(Action::Started);
            let on_event = {
                let view = view.clone();
                Callback::from(move |event| view.dispatch(Action::Event(event)))
            };
            *running.borrow_mut() = Some(Studio::start(settings, on_event));
        })
    };
    let stop = {
        let view = view.clone();
        Callback::from(move |()| {
            drop(running.borrow_mut().take());
            view.dispatch(Action::Stopped);
        })
    };
    UseStudio {
        view,
        start,
        stop,
        viewers: *viewers,
    }
}
