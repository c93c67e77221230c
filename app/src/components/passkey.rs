//! The browser side of passkey ceremonies: calls `navigator.credentials` through a small JS
//! module (`app/js/webauthn.js`), which converts between JSON and the ArrayBuffers the API
//! wants. On the server these functions are never called (they run on button presses).

#[cfg(feature = "hydrate")]
mod imp {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/webauthn.js")]
    extern "C" {
        #[wasm_bindgen(catch, js_name = createPasskey)]
        async fn create_passkey(options: String) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_name = getPasskey)]
        async fn get_passkey(options: String) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(js_name = goTo)]
        fn go_to(path: &str);
    }

    fn message(e: JsValue) -> String {
        js_sys::Reflect::get(&e, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "The passkey request failed.".to_owned())
    }

    pub async fn create(options: String) -> Result<String, String> {
        let v = create_passkey(options).await.map_err(message)?;
        v.as_string()
            .ok_or_else(|| "The browser returned no credential.".to_owned())
    }

    pub async fn get(options: String) -> Result<String, String> {
        let v = get_passkey(options).await.map_err(message)?;
        v.as_string()
            .ok_or_else(|| "The browser returned no credential.".to_owned())
    }

    pub fn navigate(path: &str) {
        go_to(path);
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    const NEEDS_BROWSER: &str = "Passkeys need the console's script running in a browser.";

    pub async fn create(_options: String) -> Result<String, String> {
        Err(NEEDS_BROWSER.to_owned())
    }

    pub async fn get(_options: String) -> Result<String, String> {
        Err(NEEDS_BROWSER.to_owned())
    }

    pub fn navigate(_path: &str) {}
}

/// Creates a passkey with the server's creation options; returns the credential JSON.
pub use imp::create;
/// Signs the server's challenge with a passkey; returns the assertion JSON.
pub use imp::get;
/// Full page load of `path` (after sign-in, so the server renders with the new session).
pub use imp::navigate;

/// Runs a passkey ceremony started from a form: marks the form busy, clears the last error, runs
/// `steps`, then loads the dashboard (so the server renders it with the new session) or shows
/// the error and lets the admin try again. A second press while busy does nothing.
pub fn run_ceremony<F>(
    busy: leptos::prelude::RwSignal<bool>,
    error: leptos::prelude::RwSignal<Option<String>>,
    steps: F,
) where
    F: std::future::Future<Output = Result<(), String>> + 'static,
{
    use leptos::prelude::{GetUntracked, Set};
    if busy.get_untracked() {
        return;
    }
    busy.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match steps.await {
            Ok(()) => navigate("/"),
            Err(e) => {
                error.set(Some(e));
                busy.set(false);
            }
        }
    });
}

/// Confirms the signed-in admin with a passkey (step-up) before a sensitive action: the server
/// then allows such actions for five minutes in this session.
pub async fn step_up() -> Result<(), String> {
    let started = crate::api::auth::start_step_up()
        .await
        .map_err(|e| e.to_string())?;
    let credential = get(started.options).await?;
    crate::api::auth::finish_step_up(started.ceremony_id, credential)
        .await
        .map_err(|_| "The passkey confirmation failed: nothing was changed. Try again.".to_owned())
}

/// Runs [`step_up`], then `action` (which dispatches the sensitive server fn); a failed
/// confirmation is shown in `error` and nothing is sent.
pub fn confirm_then<F>(error: leptos::prelude::RwSignal<Option<String>>, action: F)
where
    F: FnOnce() + 'static,
{
    use leptos::prelude::Set;
    error.set(None);
    leptos::task::spawn_local(async move {
        match step_up().await {
            Ok(()) => action(),
            Err(e) => error.set(Some(e)),
        }
    });
}
