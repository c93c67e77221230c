//! `/login`: sign in with a passkey.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::{finish_login, start_login};
use crate::components::passkey;
use crate::pages::use_hydrated;

#[component]
pub fn LoginPage() -> impl IntoView {
    let hydrated = use_hydrated();
    // Read from the element at submit time (no `bind:value`): text typed before the page has
    // hydrated must not be wiped when hydration takes over the input.
    let username = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        passkey::run_ceremony(busy, error, async move {
            let name = username
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default();
            let started = start_login(name).await.map_err(|e| e.to_string())?;
            // An unknown username gets a challenge like any other (the console does not say
            // who is an admin), so a failure here is where a mistyped name shows.
            let credential = passkey::get(started.options).await.map_err(|_| {
                "Sign-in failed: no passkey of this admin was used, or the prompt was \
                 cancelled. Check the username, and use the device or security key that holds \
                 its passkey."
                    .to_owned()
            })?;
            finish_login(started.ceremony_id, credential)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        });
    };

    view! {
        <Title text="Sign in · Palisade"/>
        <main class="auth-page">
            <h1>"Sign in to Palisade"</h1>
            <p class="lead">"Use the passkey you registered for your admin account."</p>
            <form class="card" on:submit=on_submit>
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" required autocomplete="username webauthn"
                    autocapitalize="none" spellcheck="false" node_ref=username/>
                <button type="submit" disabled=move || !hydrated.get() || busy.get()>
                    {move || if busy.get() { "Waiting for your passkey…" } else { "Sign in with passkey" }}
                </button>
                <p class="error" role="alert">{move || error.get()}</p>
                <noscript><p class="error">"Passkey sign-in needs JavaScript enabled."</p></noscript>
            </form>
        </main>
    }
}
