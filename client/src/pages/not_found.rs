//! Any path the router does not know.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;

#[function_component(NotFound)]
pub fn not_found() -> Html {
    html! {
        <section class="page">
            <h1>{"Page not found"}</h1>
            <p><Link<Route> to={Route::Lobby}>{"Back to the lobby"}</Link<Route>></p>
        </section>
    }
}
