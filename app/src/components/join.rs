//! The form that creates an admin with a passkey: the first owner from a setup link, or an
//! invited admin from an invite link. Same fields, same ceremony; only the server fns differ.

use leptos::prelude::*;

use crate::api::admins::{finish_invite, start_invite};
use crate::api::auth::{finish_setup, start_setup};
use crate::components::passkey;
use crate::pages::use_hydrated;

/// Which link the form uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Setup,
    Invite,
}

#[component]
pub fn JoinForm(token: String, via: Via, submit_label: &'static str) -> impl IntoView {
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
            let err = |e: crate::error::AppError| e.to_string();
            match via {
                Via::Setup => {
                    let started = start_setup(token.get_value(), name, display)
                        .await
                        .map_err(err)?;
                    let credential = passkey::create(started.options).await?;
                    finish_setup(started.ceremony_id, credential)
                        .await
                        .map_err(err)?;
                }
                Via::Invite => {
                    let started = start_invite(token.get_value(), name, display)
                        .await
                        .map_err(err)?;
                    let credential = passkey::create(started.options).await?;
                    finish_invite(started.ceremony_id, credential)
                        .await
                        .map_err(err)?;
                }
            }
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
                {move || if busy.get() { "Waiting for your passkey…" } else { submit_label }}
            </button>
            <p class="error" role="alert">{move || error.get()}</p>
            <noscript><p class="error">"Creating a passkey needs JavaScript enabled."</p></noscript>
        </form>
    }
}
