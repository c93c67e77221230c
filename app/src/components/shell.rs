//! The signed-in layout: navigation, the admin's name, "Sign out", and the page below.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::{Outlet, A};

use crate::api::auth::{current_admin, SignOut};
use crate::components::access::Me;

/// Areas in navigation order: (path, label).
pub const AREAS: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/clients", "Clients"),
    ("/keys", "Keys"),
    ("/certificates", "Certificates"),
    ("/pin-sets", "Pin sets"),
    ("/rate-limits", "Rate limits"),
    ("/gates", "Gates"),
    ("/audit", "Audit"),
    ("/admins", "Admins"),
    ("/api-tokens", "API tokens"),
];

#[component]
pub fn Shell() -> impl IntoView {
    let me = OnceResource::new(current_admin());
    provide_context(Me(me));
    // Marks the page as interactive, so tests (and scripts) know the forms are wired up.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">"Palisade"</a>
            <nav aria-label="Main">
                <ul>
                    {AREAS
                        .iter()
                        .map(|(href, label)| view! { <li><A href=*href exact=true>{*label}</A></li> })
                        .collect_view()}
                </ul>
            </nav>
            <div class="who">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().map(|a| view! {
                            <span class="admin-name" title=format!("Signed in as {} ({})", a.username, a.role.as_str())>
                                {a.display_name}
                            </span>
                        })
                    })}
                </Suspense>
                // A plain form post: works before the page has hydrated and without script.
                <form method="post" action=SignOut::PATH>
                    <button type="submit" class="secondary">"Sign out"</button>
                </form>
            </div>
        </header>
        <main id="main" tabindex="-1">
            <Outlet/>
        </main>
    }
}
