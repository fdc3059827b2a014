//! `/push.html`: the browser studio. The capture → WebCodecs → FLV → WebSocket pipeline lands
//! with the studio issue; until then the page says so instead of pretending.

use yew::prelude::*;

#[function_component(Studio)]
pub fn studio() -> Html {
    html! {
        <section class="page studio">
            <h1>{"Studio"}</h1>
            <p class="notice" role="status">
                {"Coming soon: going live from your camera or screen, right in this page. \
                  Meanwhile push with OBS or ffmpeg over RTMP."}
            </p>
        </section>
    }
}
