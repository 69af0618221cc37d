//! Browser entry point: cargo-leptos builds this crate to WASM and calls `hydrate` from the page.
// Leptos views are deeply nested types; the batch triage page needs more than the default 128.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
