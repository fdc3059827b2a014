//! The sign-in form (name + password) and the set-password form, used by `/signin` and by
//! the studio when nobody is signed in. Errors from the server are shown in the form,
//! including "too many tries: try again in N s" when the server rate-limits sign-ins.

use yew::prelude::*;

use crate::hooks::use_session::use_session;
use crate::services::{self, api::Session};

#[derive(Properties, PartialEq)]
pub struct SignInFormProps {
    /// Called once signed in (the session context is already updated).
    #[prop_or_default]
    pub on_signed_in: Callback<Session>,
}

/// Whether a request is on its way, or what the last one said.
#[derive(Clone, PartialEq)]
enum Sending {
    Idle,
    Busy,
    Failed(String),
}

fn error_line(sending: &Sending) -> Html {
    match sending {
        Sending::Failed(e) => html! { <p class="form-error" role="alert">{ e.clone() }</p> },
        _ => html! {},
    }
}

#[function_component(SignInForm)]
pub fn sign_in_form(props: &SignInFormProps) -> Html {
    let session = use_session();
    let name = use_state(String::new);
    let password = use_state(String::new);
    let sending = use_state(|| Sending::Idle);
    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| name.set(services::dom::input_value(&e)))
    };
    let on_password = {
        let password = password.clone();
        Callback::from(move |e: InputEvent| password.set(services::dom::input_value(&e)))
    };
    let on_submit = {
        let (name, password, sending) = (name.clone(), password.clone(), sending.clone());
        let set = session.set.clone();
        let done = props.on_signed_in.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *sending == Sending::Busy {
                return;
            }
            sending.set(Sending::Busy);
            let (name, password) = ((*name).trim().to_string(), (*password).clone());
            let (sending, set, done) = (sending.clone(), set.clone(), done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::api::sign_in(&name, &password).await {
                    Ok(session) => {
                        sending.set(Sending::Idle);
                        set.emit(Some(session.clone()));
                        done.emit(session);
                    }
                    Err(e) => {
                        let text = if e.unauthorized() {
                            "Wrong name or password.".to_string()
                        } else {
                            format!("Could not sign in: {e}.")
                        };
                        sending.set(Sending::Failed(text));
                    }
                }
            });
        })
    };
    html! {
        <form class="signin-form" onsubmit={on_submit} aria-label="Sign in">
            <label for="signin-name">{"Name"}</label>
            <input id="signin-name" type="text" autocomplete="username" required=true
                maxlength="32" value={(*name).clone()} oninput={on_name} />
            <label for="signin-password">{"Password"}</label>
            <input id="signin-password" type="password" autocomplete="current-password"
                required=true value={(*password).clone()} oninput={on_password} />
            <button type="submit" disabled={*sending == Sending::Busy}>{"Sign in"}</button>
            { error_line(&sending) }
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct PasswordFormProps {
    /// The account has no password yet (signed in by a one-time link).
    #[prop_or_default]
    pub first: bool,
    pub on_done: Callback<()>,
}

/// Chooses a (new) password: `PUT /api/session/password`.
#[function_component(PasswordForm)]
pub fn password_form(props: &PasswordFormProps) -> Html {
    let current = use_state(String::new);
    let password = use_state(String::new);
    let again = use_state(String::new);
    let sending = use_state(|| Sending::Idle);
    let input = |state: &UseStateHandle<String>| {
        let state = state.clone();
        Callback::from(move |e: InputEvent| state.set(services::dom::input_value(&e)))
    };
    let (on_current, on_password, on_again) = (input(&current), input(&password), input(&again));
    let on_submit = {
        let (current, password, again) = (current.clone(), password.clone(), again.clone());
        let sending = sending.clone();
        let (first, done) = (props.first, props.on_done.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *password != *again {
                sending.set(Sending::Failed("The two passwords differ.".into()));
                return;
            }
            if password.chars().count() < 8 {
                sending.set(Sending::Failed("Use at least 8 characters.".into()));
                return;
            }
            sending.set(Sending::Busy);
            let (password, current) = ((*password).clone(), (*current).clone());
            let (sending, done) = (sending.clone(), done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let current = (!first).then_some(current.as_str());
                match services::api::set_password(&password, current).await {
                    Ok(()) => {
                        sending.set(Sending::Idle);
                        done.emit(());
                    }
                    Err(e) => sending.set(Sending::Failed(format!("Could not set it: {e}."))),
                }
            });
        })
    };
    html! {
        <form class="signin-form" onsubmit={on_submit} aria-label="Set password">
            if !props.first {
                <label for="password-current">{"Current password"}</label>
                <input id="password-current" type="password" autocomplete="current-password"
                    required=true value={(*current).clone()} oninput={on_current} />
            }
            <label for="password-new">{"New password"}</label>
            <input id="password-new" type="password" autocomplete="new-password" required=true
                minlength="8" value={(*password).clone()} oninput={on_password} />
            <label for="password-again">{"New password again"}</label>
            <input id="password-again" type="password" autocomplete="new-password" required=true
                minlength="8" value={(*again).clone()} oninput={on_again} />
            <button type="submit" disabled={*sending == Sending::Busy}>{"Set password"}</button>
            { error_line(&sending) }
        </form>
    }
}
