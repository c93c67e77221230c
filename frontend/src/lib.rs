//! The wasm entry point: hydrates the server-rendered console. The only crate built for
//! wasm32; it must stay free of server-only crates (checked by `scripts/check-wasm-deps.sh`).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: the chunk of the page being hydrated is fetched before hydration starts.
    leptos::mount::hydrate_lazy(app::App);
}
