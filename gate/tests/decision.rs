//! Decision mode (`--mode decision`): real nginx (`auth_request`, with the configuration block
//! of `gate/README.md` as written) in front of an upstream, decisions by the gate: the upstream
//! sees the verified client and subject and never a forged one, 401 with `WWW-Authenticate`,
//! 403 with its challenge, 404, 429 with `Retry-After` and the RateLimit fields reach the
//! client, limits count the client's address (not nginx's), and a gate that is down lets
//! nothing through. Envoy's HTTP `ext_authz` request shape is checked against the gate directly
//! (Envoy is not installed), as are badly formed check requests, and the binary's `--mode` flag.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gate::serve::Mode;
use gate::{Gate, Settings};
use jose::Alg;
use policy::model::{Mode as PolicyMode, Period};
use serde_json::Value;

/// Settings of a gate in decision mode that believes `X-Forwarded-For` from 127.0.0.1 (nginx).
fn decision_settings(dir: &Path, console: &Console) -> Settings {
    let mut s = settings(
        dir,
        "127.0.0.1:9".parse().expect("addr"),
        Some(console.public_b64()),
    );
    s.mode = Mode::Decision;
    s.upstream = String::new();
    s.trusted_proxies = vec!["127.0.0.1/32".into()];
    s
}

/// A gate in decision mode with the test bundle: routes of `common::bundle`, one active EdDSA
/// key, and a per-IP limit of burst 2 (three at once) on `/limited`.
async fn decision_gate(dir: &Path, console: &Console, key: &TokenKey) -> Gate {
    let gate = Gate::start(decision_settings(dir, console))
        .await
        .expect("gate starts in decision mode without an upstream");
    let limit = policy("per-ip", 1, 1, Period::Minute, 2, PolicyMode::Enforce);
    let (status, body) = push(
        &gate,
        console.sign(&bundle(1, vec![key.bundle_key("active")], vec![limit])),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    gate
}

/// nginx with its own prefix directory, in the foreground, one process; killed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, http_block: &str) -> Nginx {
        let bin = nginx_binary();
        let port = free_port();
        let p = dir.display();
        // Run as the current user; root's nginx would otherwise hand its work to `nobody`,
        // who cannot read this private temp directory.
        let is_root = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata("/proc/self").expect("/proc/self"),
        ) == 0;
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; {user}
             pid {p}/nginx.pid; error_log {p}/error.log info;
             events {{ worker_connections 256; }}
             http {{ access_log {p}/access.log;
               client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;
               fastcgi_temp_path {p}/fcgi; uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;
               {http_block}
             }}\n",
            user = if is_root { "user root;" } else { "" },
            http_block = http_block.replace("listen 80;", &format!("listen 127.0.0.1:{port};")),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, &conf).expect("write nginx.conf");
        let child = Command::new(&bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut n = Nginx {
            child,
            dir: dir.to_path_buf(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nginx exited ({status}) at start:\n{}", n.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx never listened on {port}:\n{}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/usr/sbin/nginx` (Debian's `nginx-light`), else `nginx` on the PATH. Missing nginx fails
/// the test: `make test` installs it (`scripts/install-deps.sh`).
fn nginx_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return debian;
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    }) {
        return found;
    }
    panic!(
        "nginx is not installed (neither /usr/sbin/nginx nor `nginx` on the PATH): this test \
         runs real nginx with auth_request. Run scripts/install-deps.sh (make test does), or \
         apt-get install nginx-light"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The first ```nginx block of gate/README.md, with the gate's and the API's addresses
/// replaced (each must appear exactly once, so the README cannot drift from what is tested).
fn readme_nginx_block(gate: SocketAddr, api: SocketAddr) -> String {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```nginx\n")
        .expect("gate/README.md has an nginx block")
        + "```nginx\n".len();
    let len = readme[start..].find("```").expect("the nginx block ends");
    let mut block = readme[start..start + len].to_string();
    for (from, to) in [
        ("server 127.0.0.1:8081;", format!("server {gate};")),
        ("server 127.0.0.1:8000;", format!("server {api};")),
        ("listen 80;", "listen 80;".to_string()),
    ] {
        assert_eq!(
            block.matches(from).count(),
            1,
            "{from:?} in the README block"
        );
        block = block.replace(from, &to);
    }
    block
}

/// A client whose requests come from `ip` (any 127/8 address works on Linux loopback).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .expect("ascii")
}

#[tokio::test]
async fn nginx_auth_request_forwards_identity_and_passes_401_403_404_429() {
    let api = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let key = TokenKey::new(Alg::EdDSA);
    let gate = decision_gate(&dir.path().join("gate"), &console, &key).await;
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    let nginx = Nginx::start(&nginx_dir, &readme_nginx_block(gate.addr, api));
    let alice = client_from("127.0.0.2");
    let token = key.token(&claims());

    // Allowed with a token: the API sees the verified client and subject, and the original
    // method, path and query.
    let (status, _, echo) = send(
        alice
            .post(nginx.url("/api/items?page=2"))
            .bearer_auth(&token)
            .header("x-palisade-client", "forged"),
    )
    .await;
    assert_eq!(status, 200, "{echo}\n{}", nginx.error_log());
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/api/items?page=2");
    assert_eq!(echo["headers"]["x-palisade-client"], "app-1");
    assert_eq!(echo["headers"]["x-palisade-subject"], "user-1");

    // Allowed without a token (route without auth): a client's own identity headers are gone.
    let (status, _, echo) = send(
        alice
            .get(nginx.url("/public/x"))
            .header("x-palisade-client", "forged")
            .header("x-palisade-subject", "forged"),
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["path"], "/public/x");
    let seen = echo["headers"].as_object().expect("headers");
    assert!(
        !seen.contains_key("x-palisade-client") && !seen.contains_key("x-palisade-subject"),
        "a forged identity reached the API: {seen:?}"
    );

    // 401 without a token and with a bad one, the challenge reaching the client.
    let (status, h, _) = send(alice.get(nginx.url("/api/items"))).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "www-authenticate"), "Bearer realm=\"palisade\"");
    let (status, h, _) = send(alice.get(nginx.url("/api/items")).bearer_auth(
        key.token(&serde_json::json!({"iss": ISSUER, "aud": AUDIENCE,
                "client_id": "app-1", "exp": now_s() - 3600})),
    ))
    .await;
    assert_eq!(status, 401);
    assert!(
        header(&h, "www-authenticate").contains("error=\"invalid_token\""),
        "{h:?}"
    );

    // 403: the route needs scope `admin`; the challenge names it.
    let (status, h, _) = send(alice.get(nginx.url("/admin/users")).bearer_auth(&token)).await;
    assert_eq!(status, 403);
    assert!(
        header(&h, "www-authenticate").contains("error=\"insufficient_scope\", scope=\"admin\""),
        "{h:?}"
    );

    // 404 where no route matches (not a 500).
    let (status, _, _) = send(alice.get(nginx.url("/nowhere"))).await;
    assert_eq!(status, 404);

    // 429 after burst + 1 = 3 requests from one client, with Retry-After and the RateLimit
    // fields; another client behind the same nginx has its own bucket.
    for i in 1..=3 {
        let (status, _, body) = send(alice.get(nginx.url("/limited/x"))).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, h, _) = send(alice.get(nginx.url("/limited/x"))).await;
    assert_eq!(status, 429, "{}", nginx.error_log());
    let retry: u64 = header(&h, "retry-after").parse().expect("seconds");
    assert!((59..=60).contains(&retry), "{retry}");
    assert_eq!(header(&h, "ratelimit-policy"), "\"per-ip\";q=1;w=60");
    assert_eq!(header(&h, "ratelimit"), format!("\"per-ip\";r=0;t={retry}"));
    let (status, _, _) = send(client_from("127.0.0.3").get(nginx.url("/limited/x"))).await;
    assert_eq!(status, 200, "another client is limited with the first");

    let parsed = parse_prometheus(&metrics(&gate).await);
    assert_eq!(
        sample(&parsed, "palisade_gate_requests_total{outcome=\"allowed\"}"),
        6.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"rate_limited\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"unauthorized\"}"
        ),
        2.0
    );

    // The gate down: nothing gets through.
    gate.stop().await;
    let (status, _, body) = send(alice.get(nginx.url("/public/x"))).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "gate_unavailable");
}

/// A check request as Envoy's HTTP `ext_authz` service sends it.
fn envoy_check(gate: &Gate, method: &str, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(
            method.parse().expect("method"),
            format!("http://{}/ext_authz{path}", gate.addr),
        )
        .header("content-length", "0")
        .header("x-envoy-expected-rq-timeout-ms", "500")
}

#[tokio::test]
async fn envoy_ext_authz_shape_is_decided_like_the_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let key = TokenKey::new(Alg::EdDSA);
    let gate = decision_gate(dir.path(), &console, &key).await;
    let token = key.token(&claims());

    // Allowed: 200, empty body, the identity headers for allowed_upstream_headers.
    let (status, h, body) =
        send(envoy_check(&gate, "POST", "/api/items?page=2").bearer_auth(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, Value::String(String::new()));
    assert_eq!(header(&h, "x-palisade-client"), "app-1");
    assert_eq!(header(&h, "x-palisade-subject"), "user-1");

    // The original method counts: /api routes only GET and POST.
    let (status, _, body) =
        send(envoy_check(&gate, "DELETE", "/api/items").bearer_auth(&token)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "no_route");

    // An anonymous route is allowed without identity headers.
    let (status, h, _) = send(envoy_check(&gate, "GET", "/public/x")).await;
    assert_eq!(status, 200);
    assert!(h.get("x-palisade-client").is_none(), "{h:?}");

    // Denied answers are the proxy's, body included (Envoy sends them to the client as is).
    let (status, h, body) = send(envoy_check(&gate, "GET", "/api/items")).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "www-authenticate"), "Bearer realm=\"palisade\"");
    assert_eq!(body["error"], "unauthorized");
    let (status, _, body) =
        send(envoy_check(&gate, "GET", "/api/items").header("authorization", "Bearer not.a.jwt"))
            .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    for _ in 0..3 {
        assert_eq!(send(envoy_check(&gate, "GET", "/limited/y")).await.0, 200);
    }
    let (status, h, body) = send(envoy_check(&gate, "GET", "/limited/y")).await;
    assert_eq!(status, 429);
    assert!(header(&h, "retry-after").parse::<u64>().expect("seconds") >= 59);
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["policy"], "per-ip");

    // The same path normalisation: dot segments are resolved before matching, an encoded
    // separator is refused.
    let (status, _, _) =
        send(envoy_check(&gate, "GET", "/public/../api/items").bearer_auth(&token)).await;
    assert_eq!(status, 200);
    let (status, _, body) = send(envoy_check(&gate, "GET", "/public/..%2Fadmin")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_path");
}

#[tokio::test]
async fn badly_formed_check_requests_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let key = TokenKey::new(Alg::EdDSA);
    let gate = decision_gate(dir.path(), &console, &key).await;
    let url = |p: &str| format!("http://{}{p}", gate.addr);

    // nginx without X-Original-URI / X-Original-Method: 400 naming the header, never allowed
    // (even for a route that needs no token).
    let (status, _, body) = send(
        http()
            .get(url("/auth_request"))
            .header("x-original-method", "GET"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_check_request");
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .contains("x-original-uri"),
        "{body}"
    );
    let (status, _, body) = send(
        http()
            .get(url("/auth_request"))
            .header("x-original-uri", "/public/x"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error_description"]
        .as_str()
        .expect("text")
        .contains("x-original-method"));
    let (status, _, body) = send(
        http()
            .get(url("/auth_request"))
            .header("x-original-method", "GET")
            .header("x-original-uri", "http://evil/public/x"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Both present: decided on the original method and path, the query ignored.
    let (status, _, _) = send(
        http()
            .get(url("/auth_request"))
            .header("x-original-method", "GET")
            .header("x-original-uri", "/public/x?a=%2F"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = send(
        http()
            .get(url("/auth_request"))
            .header("x-original-method", "DELETE")
            .header("x-original-uri", "/api/items"),
    )
    .await;
    assert_eq!(status, 404, "DELETE is not routed on /api");

    // Envoy without the prefix's slash, and a path the gate does not answer.
    let (status, _, body) = send(http().get(url("/ext_authz"))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_check_request");
    let (status, _, body) = send(http().get(url("/public/x"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_check_endpoint");
}

#[test]
fn the_binary_needs_an_upstream_only_in_proxy_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_palisade-gate");
    let out = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env_remove("PALISADE_GATE_UPSTREAM")
        .env_remove("PALISADE_GATE_MODE")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--upstream"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let mut child = Command::new(bin)
        .args(["serve", "--mode", "decision"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("PALISADE_GATE_UPSTREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the gate");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answer = None;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the gate exited in decision mode: {status}");
        }
        if let Ok(r) = raw_check(port) {
            answer = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    // No bundle yet: the check is answered 503 not_ready, never allowed.
    let answer = answer.expect("the gate in decision mode answers");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("not_ready"), "{answer}");
}

/// A bare HTTP/1.1 check request on `port` (no runtime needed in a plain test).
fn raw_check(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /ext_authz/public/x HTTP/1.1\r\nhost: gate\r\nconnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
