//! Routes, the session every page shares, and the layout (header) around the pages.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::use_session::{SessionProvider, SessionState, use_session};
use crate::pages;

/// Client routes; paths follow the README URL table and stay stable once shipped.
#[derive(Debug, Clone, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Lobby,
    #[at("/push.html")]
    Studio,
    #[at("/signin")]
    SignIn,
    #[at("/watch/:room")]
    Watch { room: String },
    /// The player alone, for iframes on other sites (no header, no chat).
    #[at("/embed/:room")]
    Embed { room: String },
    /// The old link form `/play.html?room=…`.
    #[at("/play.html")]
    Play,
    #[not_found]
    #[at("/404")]
    NotFound,
}

#[function_component(App)]
pub fn app() -> Html {
    html! {
        <BrowserRouter>
            <SessionProvider>
                <Switch<Route> render={switch} />
            </SessionProvider>
        </BrowserRouter>
    }
}

fn switch(route: Route) -> Html {
    let page = match route {
        Route::Embed { room } => return html! { <pages::watch::Embed {room} /> },
        Route::Lobby => html! { <pages::lobby::Lobby /> },
        Route::Studio => html! { <pages::studio::Studio /> },
        Route::SignIn => html! { <pages::signin::SignIn /> },
        Route::Watch { room } => html! { <pages::watch::Watch {room} /> },
        Route::Play => html! { <pages::watch::PlayLink /> },
        Route::NotFound => html! { <pages::not_found::NotFound /> },
    };
    html! { <Layout>{ page }</Layout> }
}

#[derive(Clone, PartialEq, serde::Serialize)]
struct NextQuery {
    next: String,
}

#[derive(Properties, PartialEq)]
struct LayoutProps {
    children: Html,
}

#[function_component(Layout)]
fn layout(props: &LayoutProps) -> Html {
    let session = use_session();
    let location = use_location();
    let account = match &session.state {
        SessionState::SignedIn(s) => {
            let user = s.user.clone();
            let on_sign_out = {
                let session = session.clone();
                Callback::from(move |_: MouseEvent| session.sign_out())
            };
            html! {
                <span class="account" data-testid="account">
                    if let Some(user) = user {
                        <span class="user-name">{ user.name }</span>
                        <span class="user-role">{ user.role }</span>
                    }
                    <button type="button" class="sign-out" onclick={on_sign_out}>{"Sign out"}</button>
                </span>
            }
        }
        SessionState::Checking => html! {},
        SessionState::SignedOut => {
            // Back to this page once signed in.
            let next = location
                .as_ref()
                .map(|l| l.path().to_string())
                .filter(|p| p != "/signin");
            html! {
                <Link<Route, NextQuery> to={Route::SignIn} query={next.map(|next| NextQuery { next })}
                    classes="sign-in">{"Sign in"}</Link<Route, NextQuery>>
            }
        }
    };
    html! {
        <div class="app" data-testid="app">
            <header class="topbar">
                <Link<Route> to={Route::Lobby} classes="brand">{"onair"}</Link<Route>>
                <nav aria-label="Main">
                    <Link<Route> to={Route::Lobby}>{"Lobby"}</Link<Route>>
                    <Link<Route> to={Route::Studio} classes="cta">{"Go live"}</Link<Route>>
                    { account }
                </nav>
            </header>
            <main>{ props.children.clone() }</main>
        </div>
    }
}
