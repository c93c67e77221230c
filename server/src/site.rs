//! Finding the built site (the hydration script, wasm and CSS) at run time.

use std::path::{Path, PathBuf};

/// The output name shared by the wasm build and the HTML that loads it.
pub const OUTPUT_NAME: &str = "palisade";

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
