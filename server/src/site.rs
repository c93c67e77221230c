//! The built site (the hydration script, wasm and CSS under `/pkg`, the favicon): finding it at
//! run time and serving it. Public, cacheable, and never rendered per request.

use std::path::{Path, PathBuf};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

use crate::startup::AppState;

/// The output name shared by the wasm build and the HTML that loads it.
pub const OUTPUT_NAME: &str = "palisade";

const FAVICON: &[u8] = include_bytes!("../../public/favicon.svg");

fn is_site(dir: &Path) -> bool {
    dir.join("pkg").join(format!("{OUTPUT_NAME}.js")).is_file()
}

/// The configured site root, else `site/` next to the binary, else `../site` from it
/// (`target/site`, where `make` and cargo-leptos put it), else `./target/site`.
pub fn find(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = configured {
        return Some(dir.to_path_buf());
    }
    if let Ok(dir) = std::env::var("LEPTOS_SITE_ROOT") {
        return Some(PathBuf::from(dir));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let mut candidates = Vec::new();
    if let Some(d) = exe_dir {
        candidates.push(d.join("site"));
        candidates.push(d.join("..").join("site"));
        candidates.push(d.join("..").join("..").join("site"));
    }
    candidates.push(PathBuf::from("target/site"));
    candidates.into_iter().find(|d| is_site(d))
}

/// `/pkg/*` from `site_root/pkg`, and the favicon (Chromium asks for `/favicon.ico` by itself).
/// **Permissions:** none (public). **Audit:** none.
pub fn router(site_root: &Path) -> Router<AppState> {
    Router::new()
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
        // The build writes `.br` and `.gz` beside each asset: sent as they are, with
        // `Content-Encoding`, to a browser that accepts them (1.9 MB of wasm is ~0.5 MB of br).
        .nest_service(
            "/pkg",
            ServeDir::new(site_root.join("pkg"))
                .precompressed_br()
                .precompressed_gzip(),
        )
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}
