//! Routes and the layout every page shares.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::pages;

/// Client routes; paths follow the README URL table and stay stable once shipped.
#[derive(Debug, Clone, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Lobby,
    #[at("/push.html")]
    Studio,
    #[at("/watch/:room")]
    Watch { room: String },
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
            <Layout>
                <Switch<Route> render={switch} />
            </Layout>
        </BrowserRouter>
    }
}

fn switch(route: Route) -> Html {
    match route {
        Route::Lobby => html! { <pages::lobby::Lobby /> },
        Route::Studio => html! { <pages::studio::Studio /> },
        Route::Watch { room } => html! { <pages::watch::Watch {room} /> },
        Route::Play => html! { <pages::watch::PlayLink /> },
        Route::NotFound => html! { <pages::not_found::NotFound /> },
    }
}

#[derive(Properties, PartialEq)]
struct LayoutProps {
    children: Html,
}

#[function_component(Layout)]
fn layout(props: &LayoutProps) -> Html {
    html! {
        <div class="app" data-testid="app">
            <header class="topbar">
                <Link<Route> to={Route::Lobby} classes="brand">{"onair"}</Link<Route>>
                <nav aria-label="Main">
                    <Link<Route> to={Route::Lobby}>{"Lobby"}</Link<Route>>
                    <Link<Route> to={Route::Studio} classes="cta">{"Go live"}</Link<Route>>
                </nav>
            </header>
            <main>{ props.children.clone() }</main>
        </div>
    }
}
