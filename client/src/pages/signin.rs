//! `/signin[?next=PATH][&link=TOKEN]`: the sign-in page. With `link` (the one-time link the
//! server prints for the first admin) it signs in by the link, then asks for a password.
//! Once signed in it goes to `next` (a path on this site), else to the lobby.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::signin::{PasswordForm, SignInForm};
use crate::hooks::use_session::{SessionState, use_session};
use crate::services::{self, session};

#[derive(serde::Deserialize, Default)]
struct Query {
    next: Option<String>,
    link: Option<String>,
}

/// `next` if it is a path on this site (never another origin: `//host` or `https://…`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.into(),
        _ => "/".into(),
    }
}

/// Signing in by a one-time link.
#[derive(Clone, PartialEq)]
enum LinkState {
    None,
    Working,
    Failed(String),
}

#[function_component(SignIn)]
pub fn sign_in() -> Html {
    let query = use_location()
        .and_then(|l| l.query::<Query>().ok())
        .unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    let session = use_session();
    let link_state = use_state(|| {
        if query.link.is_some() {
            LinkState::Working
        } else {
            LinkState::None
        }
    });
    {
        let (link_state, set) = (link_state.clone(), session.set.clone());
        use_effect_with(query.link.clone(), move |link| {
            if let Some(link) = link.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    match services::api::sign_in_link(&link).await {
                        Ok(s) => {
                            set.emit(Some(s));
                            link_state.set(LinkState::None);
                        }
                        Err(e) => link_state.set(LinkState::Failed(format!(
                            "This sign-in link does not work ({e}): it may have been used \
                             already. Sign in with your name and password."
                        ))),
                    }
                });
            }
        });
    }
    let go_next = {
        let next = next.clone();
        Callback::from(move |()| session::go_to(&next))
    };

    let body = match (&*link_state, &session.state) {
        (LinkState::Working, _) => {
            html! { <p class="notice" role="status">{"Signing in with your link…"}</p> }
        }
        (_, SessionState::Checking) => {
            html! { <p class="notice" role="status">{"Checking…"}</p> }
        }
        (_, SessionState::SignedIn(s)) if s.must_set_password => html! {
            <>
                <p class="notice" role="status">{"Signed in. Choose a password for next time."}</p>
                <PasswordForm first=true on_done={go_next.clone()} />
            </>
        },
        (_, SessionState::SignedIn(s)) => {
            let user = s.user.clone().map(|u| u.name).unwrap_or_default();
            html! {
                <p class="notice" role="status">
                    {"Signed in as "}<strong>{ user }</strong>{". "}
                    <a href={next.clone()}>{"Continue"}</a>
                </p>
            }
        }
        (link, SessionState::SignedOut) => {
            let on_signed_in = {
                let go_next = go_next.clone();
                Callback::from(move |s: services::api::Session| {
                    // A password still to choose: this page asks for it first.
                    if !s.must_set_password {
                        go_next.emit(());
                    }
                })
            };
            html! {
                <>
                    if let LinkState::Failed(e) = link {
                        <p class="form-error" role="alert">{ e.clone() }</p>
                    }
                    <SignInForm {on_signed_in} />
                </>
            }
        }
    };
    html! {
        <section class="page signin">
            <h1>{"Sign in"}</h1>
            { body }
        </section>
    }
}
