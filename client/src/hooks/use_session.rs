//! `use_session`: who is signed in, shared by every page through a context that the app's
//! root provides ([`SessionProvider`]).
//!
//! At start the session is asked of the server only if this browser signed in before (see
//! `services::session`); sign-in and sign-out update the context, so the header and the
//! pages follow without a reload.

use yew::prelude::*;

use crate::services::api::{self, Session, User};
use crate::services::{self, session as hint};

/// What the page knows about the session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    /// Asking the server.
    Checking,
    SignedOut,
    SignedIn(Session),
}

impl SessionState {
    pub fn user(&self) -> Option<&User> {
        match self {
            SessionState::SignedIn(s) => s.user.as_ref(),
            _ => None,
        }
    }
}

/// The session and a way to change it (after sign-in / sign-out).
#[derive(Clone, PartialEq)]
pub struct SessionHandle {
    pub state: SessionState,
    pub set: Callback<Option<Session>>,
}

impl SessionHandle {
    /// Signs out on the server, then here (also when the server was unreachable: the page
    /// should not go on showing a session the user asked to end).
    pub fn sign_out(&self) {
        let set = self.set.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = api::sign_out().await {
                services::warn(&format!("sign out: {e}"));
            }
            set.emit(None);
        });
    }
}

#[derive(Properties, PartialEq)]
pub struct ProviderProps {
    pub children: Html,
}

#[function_component(SessionProvider)]
pub fn session_provider(props: &ProviderProps) -> Html {
    let state = use_state_eq(|| {
        if hint::hint().is_some() {
            SessionState::Checking
        } else {
            SessionState::SignedOut
        }
    });
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            if *state == SessionState::Checking {
                wasm_bindgen_futures::spawn_local(async move {
                    state.set(match api::session().await {
                        Ok(Some(session)) => SessionState::SignedIn(session),
                        Ok(None) => {
                            hint::forget();
                            SessionState::SignedOut
                        }
                        Err(e) => {
                            // Unreachable server: go on as a visitor, keep the hint.
                            services::warn(&format!("session: {e}"));
                            SessionState::SignedOut
                        }
                    });
                });
            }
        });
    }
    let set = {
        let state = state.clone();
        Callback::from(move |session: Option<Session>| match session {
            Some(session) if session.user.is_some() => {
                if let Some(user) = &session.user {
                    hint::remember(user);
                }
                state.set(SessionState::SignedIn(session));
            }
            _ => {
                hint::forget();
                state.set(SessionState::SignedOut);
            }
        })
    };
    let handle = SessionHandle {
        state: (*state).clone(),
        set,
    };
    html! {
        <ContextProvider<SessionHandle> context={handle}>
            { props.children.clone() }
        </ContextProvider<SessionHandle>>
    }
}

/// The session from the app's [`SessionProvider`].
#[hook]
pub fn use_session() -> SessionHandle {
    use_context::<SessionHandle>().unwrap_or_else(|| SessionHandle {
        state: SessionState::SignedOut,
        set: Callback::noop(),
    })
}
