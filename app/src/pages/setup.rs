//! `/setup?token=…`: create the first owner with a passkey from the one-time setup link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{check_setup_link, finish_setup, start_setup};
use crate::components::passkey;
use crate::pages::use_hydrated;

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let link = Resource::new(token, check_setup_link);
    view! {
        <Title text="Set up · Palisade"/>
        <main class="auth-page">
            <h1>"Set up Palisade"</h1>
            <p class="lead">
                "Create the first owner. Your passkey is the only credential: there is no password to "
                "steal or reset. The setup link works once and for one hour."
            </p>
            <Suspense fallback=|| view! { <p>"Checking the setup link…"</p> }>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok(()) => view! { <SetupForm token=token()/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn SetupForm(token: String) -> impl IntoView {
    let hydrated = use_hydrated();
    // Read from the elements at submit time (no `bind:value`): text typed before the page has
    // hydrated must not be wiped when hydration takes over the inputs.
    let username = NodeRef::<leptos::html::Input>::new();
    let display_name = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let token = StoredValue::new(token);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = |r: NodeRef<leptos::html::Input>| {
            r.get_untracked().map(|el| el.value()).unwrap_or_default()
        };
        let (name, display) = (value(username), value(display_name));
        passkey::run_ceremony(busy, error, async move {
            let started = start_setup(token.get_value(), name, display)
                .await
                .map_err(|e| e.to_string())?;
            let credential = passkey::create(started.options).await?;
            finish_setup(started.ceremony_id, credential)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        });
    };

    view! {
        <form class="card" on:submit=on_submit>
            <label for="username">"Username"</label>
            <input id="username" name="username" type="text" required minlength="3" maxlength="64"
                autocomplete="username" autocapitalize="none" spellcheck="false"
                aria-describedby="username-help" node_ref=username/>
            <p id="username-help" class="help">"3–64 characters: letters, digits, '.', '_' or '-'."</p>
            <label for="display-name">"Display name"</label>
            <input id="display-name" name="display_name" type="text" required maxlength="100"
                autocomplete="name" node_ref=display_name/>
            <button type="submit" disabled=move || !hydrated.get() || busy.get()>
                {move || if busy.get() { "Waiting for your passkey…" } else { "Create owner with passkey" }}
            </button>
            <p class="error" role="alert">{move || error.get()}</p>
            <noscript><p class="error">"Creating a passkey needs JavaScript enabled."</p></noscript>
        </form>
    }
}
