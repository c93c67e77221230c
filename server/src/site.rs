//! The built site (the hydration script, wasm and CSS under `/pkg`, the favicon): finding it at
//! run time and serving it. Public, revalidated by `ETag`, and never rendered per request.
//!
//! The files are read into memory once, at startup, with the `.br` and `.gz` copies the build
//! writes beside each: a request is a map lookup, the encoding the browser accepts (brotli,
//! then gzip, else as built), and no file system access, so an asset answers about as fast as
//! the favicon (with `ServeDir` reading the file per request, the CSS managed 0.21x of it).
//! The wasm and the server that renders for it are built together: a rebuilt site needs a
//! restart either way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
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

/// `/pkg/*` from `site_root/pkg` (read at startup), and the favicon (Chromium asks for
/// `/favicon.ico` by itself). **Permissions:** none (public). **Audit:** none.
pub fn router<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let assets = Arc::new(Assets::load(&site_root.join("pkg")));
    tracing::info!(files = assets.0.len(), "site assets loaded");
    Router::new()
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
        .route("/pkg/{*path}", get(asset).with_state(assets))
}

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

async fn asset(
    State(assets): State<Arc<Assets>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(a) = assets.0.get(&path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == a.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let ok = accepted(&headers);
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
    // The names are not hashed: a browser keeps the file but asks whether it changed.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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
        let app: Router = router(dir.path());
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
