//! DOM helpers, so components never reach for web-sys themselves.

use wasm_bindgen::JsCast;
use yew::NodeRef;

/// The current value of the `<input>` an event came from ("" for any other target).
pub fn input_value(event: &web_sys::Event) -> String {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| input.value())
        .unwrap_or_default()
}

/// Scrolls a scrollable element to its end (newest chat line in view).
pub fn scroll_to_bottom(node: &NodeRef) {
    if let Some(element) = node.cast::<web_sys::Element>() {
        element.set_scroll_top(element.scroll_height());
    }
}

/// Whether a scrollable element is scrolled (nearly) to its end, i.e. the reader is
/// following along rather than reading older lines.
pub fn is_near_bottom(node: &NodeRef) -> bool {
    node.cast::<web_sys::Element>().is_none_or(|element| {
        element.scroll_height() - element.scroll_top() - element.client_height() < 48
    })
}
