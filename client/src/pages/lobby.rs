//! `/`: the lobby. Lists live rooms once the rooms API exists.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;

#[function_component(Lobby)]
pub fn lobby() -> Html {
    html! {
        <section class="page lobby">
            <h1>{"Live now"}</h1>
            <p class="notice" role="status">
                {"Coming soon: live rooms with their viewers and likes will be listed here once rooms and chat land."}
            </p>
            <p>
                {"Broadcast from your browser in the "}
                <Link<Route> to={Route::Studio}>{"studio"}</Link<Route>>
                {", or push with OBS / ffmpeg to "}<code>{"rtmp://HOST:1935/live/ROOM?key=KEY"}</code>{"."}
            </p>
        </section>
    }
}
