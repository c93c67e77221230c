//! One page per area. Sign-in and the shell are in the main wasm module; setup, invitation and
//! every page behind the shell are loaded on demand ([`lazy_page!`]).

pub mod admins;
pub mod api_tokens;
pub mod audit;
pub mod certs;
pub mod clients;
pub mod dashboard;
pub mod gates;
pub mod invite;
pub mod keys;
pub mod login;
pub mod pinsets;
pub mod policies;
pub mod setup;

use leptos::prelude::*;

/// A page whose code (its views and what only they use) is a wasm chunk of its own, fetched
/// when the page is first visited (Leptos lazy routes; the build splits the wasm at these
/// points, see `tools/wasm-split`). `lazy_page!(AuditRoute, audit::AuditPage)` declares the
/// route type the router takes as `Lazy::<AuditRoute>::new()`. On the server nothing changes.
macro_rules! lazy_page {
    ($($route:ident => $page:path),+ $(,)?) => {$(
        #[doc = concat!("The lazily loaded route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    )+};
}

lazy_page!(
    // Setting up the first owner and joining through an invite: each admin visits them once,
    // so they come when visited, not with every sign-in page.
    SetupRoute => setup::SetupPage,
    InviteRoute => invite::InvitePage,
    DashboardRoute => dashboard::DashboardPage,
    ClientsRoute => clients::ClientsPage,
    KeysRoute => keys::KeysPage,
    CertificatesRoute => certs::CertificatesPage,
    PinSetsRoute => pinsets::PinSetsPage,
    RateLimitsRoute => policies::RateLimitsPage,
    GatesRoute => gates::GatesPage,
    AuditRoute => audit::AuditPage,
    AdminsRoute => admins::AdminsPage,
    ApiTokensRoute => api_tokens::ApiTokensPage,
);

/// The element id of an object's row or card on its page (`client-<id>`), which the audit
/// explorer's targets link to (`/clients#client-<id>`).
pub fn anchor(kind: &str, id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{kind}-{id}")
}

/// True once the page has hydrated, so buttons that need script are not pressed before it runs.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
