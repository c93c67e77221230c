//! The built site (the hydration script, wasm and CSS under `/pkg`, the favicon): finding it at
//! run time and serving it. Public, revalidated by `ETag`, and never rendered per request.
//!
//! The files are read into memory once, at startup, with the `.br` and `.gz` copies the build
//! writes beside each: a request is a map lookup, the encoding the browser accepts (brotli,
//! then gzip, else as built), and no file system access, so an asset answers about as fast as
//! the favicon (with `ServeDir` reading the file per request, the CSS managed 0.21x of it).
//! The wasm and the server that renders for it are built together: a rebuilt site needs a
//! restart either way.
//!
//! Pages load the site from `/assets/<build>/pkg/…`, where `<build>` is a digest of every
//! file: those answers are `immutable` for a year, so a returning browser asks for nothing until
//! the site changes, and a new build is a new path (the chunk loader finds its chunks relative
//! to itself, so they move with it). Another build's path is a 404, never a mix of two builds.
//! `/pkg/…` stays, revalidated by `ETag`, for tools and links that name files directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

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

/// Where the versioned copies of the site are served.
const ASSETS_PREFIX: &str = "/assets/";

/// Whether a path is one of the site's static files (public, cached; no page rendering).
pub fn is_asset_path(path: &str) -> bool {
    path.starts_with("/pkg/") || path.starts_with(ASSETS_PREFIX) || path.starts_with("/favicon.")
}

/// The site's routes, and the root its pages load it from.
pub struct Site<S> {
    pub router: Router<S>,
    /// `/assets/<build>`: the base before `/pkg/…` in the pages (Leptos's `HydrationScripts`
    /// `root`).
    pub asset_root: String,
}

/// `/assets/<build>/pkg/*` (immutable) and `/pkg/*` (revalidated) from `site_root/pkg` (read
/// at startup), and the favicon (Chromium asks for `/favicon.ico` by itself).
/// **Permissions:** none (public). **Audit:** none.
pub fn router<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Site<S> {
    let assets = Assets::load(&site_root.join("pkg"));
    let build = assets.build_id();
    tracing::info!(files = assets.0.len(), %build, "site assets loaded");
    let assets = Arc::new(assets);
    let versioned = {
        let (assets, build) = (assets.clone(), build.clone());
        move |UrlPath((id, path)): UrlPath<(String, String)>, headers: HeaderMap| async move {
            if id != build {
                return (StatusCode::NOT_FOUND, "not found: another build\n").into_response();
            }
            answer(&assets, &path, &headers, IMMUTABLE)
        }
    };
    let revalidated = move |UrlPath(path): UrlPath<String>, headers: HeaderMap| async move {
        answer(&assets, &path, &headers, REVALIDATE)
    };
    Site {
        router: Router::new()
            .route("/favicon.ico", get(favicon))
            .route("/favicon.svg", get(favicon))
            .route("/pkg/{*path}", get(revalidated))
            .route(
                &format!("{ASSETS_PREFIX}{{build}}/pkg/{{*path}}"),
                get(versioned),
            ),
        asset_root: format!("{ASSETS_PREFIX}{build}"),
    }
}

/// A versioned name never changes content: keep it a year without asking.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// An unversioned name can: keep the file but ask whether it changed (`ETag`).
const REVALIDATE: &str = "no-cache";

/// One built file: as built, and the precompressed copies the build wrote beside it.
struct Asset {
    identity: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
    content_type: &'static str,
    etag: HeaderValue,
}

/// Every file under `pkg/`, by its path there (`palisade.css`, `snippets/…/webauthn.js`).
struct Assets(HashMap<String, Asset>);

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

impl Assets {
    /// A digest of every file's name and content (16 hex digits): a new build, a new id.
    fn build_id(&self) -> String {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        let mut h = Sha256::new();
        for n in names {
            h.update(n.as_bytes());
            h.update([0]);
            h.update(self.0[n].etag.as_bytes());
        }
        hex::encode(&h.finalize()[..8])
    }

    /// Reads `dir` recursively; a missing or unreadable directory is an empty site (logged).
    fn load(dir: &Path) -> Assets {
        let mut files = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                tracing::warn!(dir = %d.display(), "site assets not readable");
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    todo.push(path);
                } else if let Ok(rel) = path.strip_prefix(dir) {
                    files.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let read = |name: &str| std::fs::read(dir.join(name)).ok().map(Bytes::from);
        let mut map = HashMap::new();
        for name in &files {
            if name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let Some(identity) = read(name) else { continue };
            let digest = Sha256::digest(&identity);
            let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
                .unwrap_or(HeaderValue::from_static("\"0\""));
            map.insert(
                name.clone(),
                Asset {
                    br: read(&format!("{name}.br")),
                    gzip: read(&format!("{name}.gz")),
                    content_type: content_type(name),
                    identity,
                    etag,
                },
            );
        }
        Assets(map)
    }
}

/// The encodings of an `Accept-Encoding` header the client accepts (q > 0), lowercased.
fn accepted(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?.to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!name.is_empty() && !refused).then_some(name)
        })
        .collect()
}

/// One file in the encoding the client accepts, with `cache_control`.
fn answer(
    assets: &Assets,
    path: &str,
    headers: &HeaderMap,
    cache_control: &'static str,
) -> Response {
    let Some(a) = assets.0.get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == a.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let ok = accepted(headers);
        let (body, encoding) = match (&a.br, &a.gzip) {
            (Some(br), _) if ok.iter().any(|e| e == "br") => (br.clone(), Some("br")),
            (_, Some(gz)) if ok.iter().any(|e| e == "gzip") => (gz.clone(), Some("gzip")),
            _ => (a.identity.clone(), None),
        };
        let mut res = body.into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        );
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        res
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, a.etag.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    res
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    async fn get_with(
        app: &Router,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = axum::http::Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = app
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).expect("request"))
            .await
            .expect("answer");
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        (parts.status, parts.headers, bytes.to_vec())
    }

    #[tokio::test]
    async fn assets_are_served_from_memory_in_the_encoding_the_client_accepts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(pkg.join("snippets/x")).expect("dirs");
        std::fs::write(pkg.join("a.css"), "body{}").expect("write");
        std::fs::write(pkg.join("a.css.br"), "BR").expect("write");
        std::fs::write(pkg.join("a.css.gz"), "GZ").expect("write");
        std::fs::write(pkg.join("snippets/x/w.js"), "js").expect("write");
        let site = router::<()>(dir.path());
        let app: Router = site.router;
        let (s, h, b) = get_with(
            &app,
            "/pkg/a.css",
            &[("accept-encoding", "gzip, deflate, br")],
        )
        .await;
        assert_eq!(
            (s, b.as_slice(), h[header::CONTENT_ENCODING].as_bytes()),
            (StatusCode::OK, &b"BR"[..], &b"br"[..])
        );
        assert_eq!(h[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(h[header::VARY], "accept-encoding");
        let (_, h2, b) = get_with(&app, "/pkg/a.css", &[("accept-encoding", "br;q=0, gzip")]).await;
        assert_eq!(
            (b.as_slice(), h2[header::CONTENT_ENCODING].as_bytes()),
            (&b"GZ"[..], &b"gzip"[..])
        );
        let (_, h3, b) = get_with(&app, "/pkg/a.css", &[]).await;
        assert_eq!(b, b"body{}");
        assert!(!h3.contains_key(header::CONTENT_ENCODING));
        assert_eq!(h3[header::CACHE_CONTROL], "no-cache");
        // The versioned path: the same file, kept for a year; another build's path is a 404.
        let versioned = format!("{}/pkg/a.css", site.asset_root);
        let (s, h4, b) = get_with(&app, &versioned, &[("accept-encoding", "br")]).await;
        assert_eq!((s, b.as_slice()), (StatusCode::OK, &b"BR"[..]));
        assert_eq!(
            h4[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            get_with(&app, "/assets/0123456789abcdef/pkg/a.css", &[])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // One changed byte anywhere is another build.
        std::fs::write(pkg.join("snippets/x/w.js"), "jS").expect("write");
        let rebuilt = router::<()>(dir.path()).asset_root;
        assert!(rebuilt.starts_with("/assets/") && rebuilt.len() == "/assets/".len() + 16);
        assert_ne!(rebuilt, site.asset_root);
        // Revalidation: the same ETag whatever the encoding; a match is a 304 without a body.
        assert_eq!(h[header::ETAG], h3[header::ETAG]);
        let etag = h[header::ETAG].to_str().expect("ascii").to_owned();
        let (s, _, b) = get_with(&app, "/pkg/a.css", &[("if-none-match", &etag)]).await;
        assert_eq!((s, b.len()), (StatusCode::NOT_MODIFIED, 0));
        // Nested files; the copies are not files of their own; nothing outside pkg.
        assert_eq!(get_with(&app, "/pkg/snippets/x/w.js", &[]).await.2, b"js");
        assert_eq!(
            get_with(&app, "/pkg/a.css.br", &[]).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_with(&app, "/pkg/../pkg/a.css", &[]).await.0,
            StatusCode::NOT_FOUND
        );
    }
}
