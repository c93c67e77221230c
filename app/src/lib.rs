//! Palisade console UI: pages, components and server fns, rendered on the server (`ssr`) and
//! hydrated in the browser (`hydrate`).
//!
//! Must not pull server-only crates into the wasm: `domain`, `leptos_axum` and `http` enter
//! only under the `ssr` feature (a check in `make test` enforces it).

pub mod access;
pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub mod cookie;
#[cfg(feature = "ssr")]
pub mod ctx;
pub mod error;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};

use components::shell::Shell;
use pages::{
    invite::InvitePage, login::LoginPage, setup::SetupPage, AdminsRoute, AuditRoute,
    CertificatesRoute, ClientsRoute, DashboardRoute, GatesRoute, KeysRoute, PinSetsRoute,
    RateLimitsRoute,
};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="palisade" href="/pkg/palisade.css"/>
        <Title text="Palisade"/>
        <Router>
            <Routes fallback=|| view! { <main class="auth-page"><h1>"Not found"</h1><p><a href="/">"Back to the dashboard"</a></p></main> }>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/setup") view=SetupPage/>
                <Route path=path!("/invite") view=InvitePage/>
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view={Lazy::<DashboardRoute>::new()}/>
                    <Route path=path!("clients") view={Lazy::<ClientsRoute>::new()}/>
                    <Route path=path!("keys") view={Lazy::<KeysRoute>::new()}/>
                    <Route path=path!("certificates") view={Lazy::<CertificatesRoute>::new()}/>
                    <Route path=path!("pin-sets") view={Lazy::<PinSetsRoute>::new()}/>
                    <Route path=path!("rate-limits") view={Lazy::<RateLimitsRoute>::new()}/>
                    <Route path=path!("gates") view={Lazy::<GatesRoute>::new()}/>
                    <Route path=path!("audit") view={Lazy::<AuditRoute>::new()}/>
                    <Route path=path!("admins") view={Lazy::<AdminsRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
