//! Form pieces shared by the pages: a labelled field, and the outcome line of a server action
//! (a status message on success, an alert with the server's message on failure).

use leptos::prelude::*;
use server_fn::ServerFn;

use crate::error::AppError;

/// A labelled input. The id is derived from the label so that several forms on one page can
/// use the same field name.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(optional)] value: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    let id: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input id=id name=name type=kind value=value placeholder=placeholder required=required/>
        </div>
    }
}

/// The outcome of the last dispatch of `action`: `ok(value)` as a status line, or the error.
pub fn action_result<S, F>(action: ServerAction<S>, ok: F) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
    F: Fn(S::Output) -> String + Send + Sync + 'static,
{
    move || {
        if action.pending().get() {
            return Some(view! { <p class="pending" role="status">"Working…"</p> }.into_any());
        }
        action.value().get().map(|r| match r {
            Ok(v) => view! { <p class="ok" role="status">{ok(v)}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    }
}

/// Asks the admin to confirm an action that is hard to undo; the message says what will happen.
pub fn confirm(message: &str) -> bool {
    window().confirm_with_message(message).unwrap_or(false)
}

/// Writes `text` to the clipboard (`navigator.clipboard.writeText`); false where the browser
/// offers no clipboard (or on the server).
pub fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let get = |target: &wasm_bindgen::JsValue, key: &str| {
            js_sys::Reflect::get(target, &wasm_bindgen::JsValue::from_str(key)).ok()
        };
        let Some(clipboard) =
            get(&js_sys::global(), "navigator").and_then(|n| get(&n, "clipboard"))
        else {
            return false;
        };
        let Some(write) =
            get(&clipboard, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return false;
        };
        write
            .call1(&clipboard, &wasm_bindgen::JsValue::from_str(text))
            .is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}
