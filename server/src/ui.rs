//! The console's user interface: the server-rendered Leptos pages of `app` and the server fns
//! their forms call. Server fns live under [`FN_PREFIX`], which the middleware treats as the
//! pages' own API (Origin check on every call, 401 rather than a redirect); the REST API gets a
//! prefix of its own beside it.
//!
//! Every `#[server]` in `app` takes its prefix from the build (`SERVER_FN_PREFIX` in
//! `.cargo/config.toml`, which leptos' macro reads; cargo-leptos builds pick it up too), so the
//! browser's wasm and the server agree without a `prefix` on each server fn;
//! [`check_server_fns`] refuses to start a binary whose server fns were built with another one.

use std::sync::Arc;

use app::cookie::CookiePolicy;
use axum::routing::post;
use axum::Router;
use domain::console::Console;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};

use crate::middleware::CspNonce;
use crate::startup::AppState;

/// Where the server fns are mounted: `{FN_PREFIX}/{endpoint}`.
pub const FN_PREFIX: &str = "/fn";

/// The paths of every server fn compiled into this binary (from server_fn's registry), sorted.
pub fn server_fn_paths() -> Vec<&'static str> {
    let mut paths: Vec<_> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _method)| path)
        .collect();
    paths.sort_unstable();
    paths
}

/// The path of every page the router serves (from the app's route list), sorted.
pub fn page_paths() -> Vec<String> {
    let mut paths: Vec<String> = generate_route_list(app::App)
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
}

/// Fails when a server fn sits outside [`FN_PREFIX`] (the router would never reach it, and the
/// middleware would not give it the Origin check and the 401 the others get) or has no rule in
/// the access table.
pub fn check_server_fns() -> anyhow::Result<()> {
    let outside: Vec<_> = server_fn_paths()
        .into_iter()
        .filter(|p| !is_server_fn(p))
        .collect();
    anyhow::ensure!(
        outside.is_empty(),
        "server fns outside {FN_PREFIX}/: {outside:?} (was `app` built without the \
         SERVER_FN_PREFIX of .cargo/config.toml?)"
    );
    let unlisted: Vec<_> = server_fn_paths()
        .into_iter()
        .filter_map(|p| p.strip_prefix(FN_PREFIX)?.strip_prefix('/'))
        .filter(|e| app::access::server_fn(e).is_none())
        .collect();
    anyhow::ensure!(
        unlisted.is_empty(),
        "server fns without a rule in app::access::SERVER_FNS: {unlisted:?} (add one: the \
         guard refuses them for everyone)"
    );
    Ok(())
}

/// True for a path under [`FN_PREFIX`], registered or not.
pub fn is_server_fn(path: &str) -> bool {
    path.strip_prefix(FN_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// What pages and server fns read from context: the console, the cookie policy and the
/// request's CSP nonce (for the hydration script).
fn leptos_context(
    console: Arc<Console>,
    cookies: CookiePolicy,
) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(console.clone());
        provide_context(cookies);
        if let Some(parts) = use_context::<http::request::Parts>() {
            if let Some(n) = parts.extensions.get::<CspNonce>() {
                provide_context(leptos::nonce::Nonce::from_value(n.0.clone()));
            }
        }
    }
}

/// The pages of `app::App` and `POST {FN_PREFIX}/{endpoint}` for its server fns.
/// **Permissions:** each page and server fn checks its own; the guard has already refused
/// anonymous callers except on the sign-in and setup ones. **Audit:** per server fn.
pub fn router(state: &AppState, cookies: CookiePolicy, asset_root: String) -> Router<AppState> {
    let ctx = leptos_context(state.console.clone(), cookies);
    let fn_ctx = ctx.clone();
    let shell_options = state.leptos.clone();
    Router::new()
        .route(
            &format!("{FN_PREFIX}/{{*fn_name}}"),
            post(move |req| handle_server_fns_with_context(fn_ctx.clone(), req)),
        )
        .leptos_routes_with_context(state, generate_route_list(app::App), ctx, move || {
            app::shell(shell_options.clone(), asset_root.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_the_prefix_are_server_fns() {
        assert!(is_server_fn(&format!("{FN_PREFIX}/sign_out")));
        assert!(!is_server_fn(FN_PREFIX));
        assert!(!is_server_fn(&format!("{FN_PREFIX}x/sign_out")));
        assert!(!is_server_fn("/login"));
    }

    #[test]
    fn every_server_fn_is_below_the_prefix() {
        let paths = server_fn_paths();
        for known in ["current_admin", "start_login", "list_audit_events"] {
            let path = format!("{FN_PREFIX}/{known}");
            assert!(paths.contains(&path.as_str()), "{path} in {paths:?}");
        }
        check_server_fns().expect("all under the prefix");
    }
}
