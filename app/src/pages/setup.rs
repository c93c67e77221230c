//! `/setup?token=…`: create the first owner with a passkey from the one-time setup link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::check_setup_link;
use crate::components::join::{JoinForm, Via};

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
                        Ok(()) => view! { <JoinForm token=token() via=Via::Setup submit_label="Create owner with passkey"/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
