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
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};

use components::shell::Shell;
use pages::{
    login::LoginPage, AdminsRoute, ApiTokensRoute, AuditRoute, CertificatesRoute, ClientsRoute,
    DashboardRoute, GatesRoute, InviteRoute, KeysRoute, PinSetsRoute, RateLimitsRoute, SetupRoute,
};

/// The HTML document around the app (server side only). `asset_root` is where the built site
/// is served (`/assets/<build>`: a new build, a new path, so browsers may keep it for good).
pub fn shell(options: LeptosOptions, asset_root: String) -> impl IntoView {
    let stylesheet = format!("{asset_root}/{}/palisade.css", options.site_pkg_dir);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href=stylesheet/>
                <HydrationScripts options root=asset_root/>
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
        <Title text="Palisade"/>
        <Router>
            <Routes fallback=|| view! { <main class="auth-page"><h1>"Not found"</h1><p><a href="/">"Back to the dashboard"</a></p></main> }>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()}/>
                <Route path=path!("/invite") view={Lazy::<InviteRoute>::new()}/>
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
                    <Route path=path!("api-tokens") view={Lazy::<ApiTokensRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
