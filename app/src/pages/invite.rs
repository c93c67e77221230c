//! `/invite#<token>`: join the console from a one-time invite with a passkey. The token stays
//! in the URL's fragment (never sent in a request line or a `Referer`); the page reads it in the
//! browser and sends it in the body of its calls.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::api::admins::check_invite;
use crate::components::join::{JoinForm, Via};
use crate::components::time::utc;

#[component]
pub fn InvitePage() -> impl IntoView {
    let hash = use_location().hash;
    let token = move || hash.get().trim_start_matches('#').to_owned();
    // Only in the browser: the server never sees the fragment.
    let offer = LocalResource::new(move || check_invite(token()));
    view! {
        <Title text="Join · Palisade"/>
        <main class="auth-page">
            <h1>"Join Palisade"</h1>
            <p class="lead">
                "You were invited to the console. Choose a username and create a passkey: it is "
                "your only credential, so there is no password to steal or reset."
            </p>
            <Suspense fallback=|| view! { <p>"Checking the invite…"</p> }>
                {move || Suspend::new(async move {
                    match offer.await {
                        Ok(o) => view! {
                            <p>"Invited by " <strong>{o.invited_by}</strong> " as "
                                <strong>{o.role.as_str()}</strong> ": " {o.role.summary()}
                                " The invite works once, until " {utc(o.expires_at_ms)} "."</p>
                            <JoinForm token=token() via=Via::Invite submit_label="Join with a passkey"/>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
