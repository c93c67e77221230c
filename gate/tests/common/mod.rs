//! Shared test scaffolding: an upstream that echoes what it received, a console bundle key, a
//! bundle builder, token signers, and a gate started in-process on 127.0.0.1 port 0.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::Router;
use gate::state::Limits;
use gate::{Gate, Settings};
use jose::ed25519::SecretKey;
use jose::{Alg, SigningKey, Typ};
use policy::bundle::{Bundle, BundleClient, BundleKey, BundleKeySet, Route, RouteAuth, FORMAT};
use policy::jwk::Jwk;
use policy::model::{Action, KeyBy, Limit, Match, Mode, PathMatch, Period, Policy, Scope};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://console.test";
pub const AUDIENCE: &str = "api";
pub const RSA_PKCS8: &[u8] = include_bytes!("../../../jose/tests/data/rsa2048.pk8");

/// Starts an upstream that answers every request with 200 and a JSON echo of its method, path
/// (with query) and headers.
pub async fn upstream() -> SocketAddr {
    async fn echo(req: axum::extract::Request) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        axum::Json(json!({
            "method": req.method().as_str(),
            "path": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            "headers": headers,
        }))
    }
    let app = Router::new().fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The console's bundle key.
pub struct Console {
    pub key: SecretKey,
}

impl Console {
    pub fn new() -> Self {
        Console {
            key: SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("rng")).expect("key"),
        }
    }
    pub fn public_b64(&self) -> String {
        self.key.public_key().to_b64()
    }
    /// The envelope bytes as the console pushes them.
    pub fn sign(&self, b: &Bundle) -> Vec<u8> {
        serde_json::to_vec(&jose::envelope::seal(b, &self.key).expect("seal")).expect("json")
    }
}

/// A token signing key with its public JWK.
pub struct TokenKey {
    pub alg: Alg,
    pub pkcs8: Vec<u8>,
    pub jwk: Jwk,
}

impl TokenKey {
    pub fn new(alg: Alg) -> Self {
        let pkcs8 = match alg {
            Alg::EdDSA => SecretKey::generate_pkcs8().expect("rng"),
            Alg::ES256 => {
                use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
                let rng = ring::rand::SystemRandom::new();
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .expect("rng")
                    .as_ref()
                    .to_vec()
            }
            Alg::RS256 => RSA_PKCS8.to_vec(),
        };
        let jwk = SigningKey::load(alg, &pkcs8)
            .expect("load")
            .public_jwk()
            .expect("jwk");
        TokenKey { alg, pkcs8, jwk }
    }
    pub fn kid(&self) -> String {
        self.jwk.kid.clone().expect("kid")
    }
    pub fn token(&self, claims: &Value) -> String {
        jose::sign_jwt_typed(self.alg, &self.pkcs8, &self.kid(), Typ::AccessToken, claims)
            .expect("sign")
    }
    pub fn token_typed(&self, typ: Typ, claims: &Value) -> String {
        jose::sign_jwt_typed(self.alg, &self.pkcs8, &self.kid(), typ, claims).expect("sign")
    }
    /// Any header and claims bytes, validly signed by this key.
    pub fn raw(&self, header: &str, claims: &Value) -> String {
        SigningKey::load(self.alg, &self.pkcs8)
            .expect("load")
            .sign_compact(header.as_bytes(), claims.to_string().as_bytes())
            .expect("sign")
    }
    pub fn bundle_key(&self, state: &str) -> BundleKey {
        BundleKey {
            kid: self.kid(),
            state: state.into(),
            jwk: self.jwk.clone(),
        }
    }
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Claims of a valid access token for client `app-1`.
pub fn claims() -> Value {
    let now = now_s();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "client_id": "app-1",
           "scope": "read write", "iat": now, "exp": now + 300, "jti": "t1"})
}

pub fn policy(id: &str, order: u32, rate: u32, per: Period, burst: u32, mode: Mode) -> Policy {
    Policy {
        id: id.into(),
        name: format!("policy {id}"),
        enabled: true,
        order,
        matcher: Match {
            path: PathMatch::Prefix("/limited".into()),
            ..Match::default()
        },
        key: KeyBy::Ip,
        limit: Limit { rate, per, burst },
        scope: Scope::Gate,
        action: Action::Reject,
        mode,
    }
}

/// Version `version` with routes: `/public` (no auth), `/admin` (bearer + scope `admin`),
/// `/` and everything else under `/api`, `/limited` (bearer + `read`... see below).
pub fn bundle(version: u64, keys: Vec<BundleKey>, policies: Vec<Policy>) -> Bundle {
    Bundle {
        format: FORMAT,
        version,
        issued_at_ms: now_s() * 1000,
        prev_hash: if version == 1 {
            String::new()
        } else {
            "0".repeat(64)
        },
        console_id: "console-test".into(),
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into(), "other".into()],
        require_typ_at_jwt: true,
        policies,
        clients: vec![
            BundleClient {
                client_id: "app-1".into(),
                kind: "public".into(),
                enabled: true,
                policy_id: None,
                scopes: vec!["read".into(), "write".into()],
                auth_method: "none".into(),
                grant_types: vec![],
                token_lifetime_s: 0,
                secrets: vec![],
                jwks: None,
            },
            BundleClient {
                client_id: "app-off".into(),
                kind: "service".into(),
                enabled: false,
                policy_id: None,
                scopes: vec!["read".into()],
                auth_method: "client_secret_basic".into(),
                grant_types: vec!["client_credentials".into()],
                token_lifetime_s: 600,
                secrets: vec![],
                jwks: None,
            },
        ],
        key_sets: vec![BundleKeySet {
            name: "main".into(),
            leeway_s: 30,
            keys,
            max_token_lifetime_s: 3_600,
        }],
        routes: vec![
            Route {
                path: PathMatch::Prefix("/public".into()),
                methods: vec![],
                auth: RouteAuth::None,
            },
            Route {
                path: PathMatch::Prefix("/limited".into()),
                methods: vec![],
                auth: RouteAuth::None,
            },
            Route {
                path: PathMatch::Prefix("/admin".into()),
                methods: vec![],
                auth: RouteAuth::Bearer {
                    scopes: vec!["admin".into()],
                },
            },
            Route {
                path: PathMatch::Prefix("/api".into()),
                methods: vec!["GET".into(), "POST".into()],
                auth: RouteAuth::Bearer {
                    scopes: vec!["read".into()],
                },
            },
        ],
        token_key_set: None,
        tls_certificate: None,
    }
}

pub fn settings(dir: &Path, upstream: SocketAddr, bundle_key: Option<String>) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        admin_listen: "127.0.0.1:0".parse().expect("addr"),
        mode: gate::serve::Mode::Proxy,
        upstream: format!("http://{upstream}"),
        data_dir: dir.to_path_buf(),
        console: None,
        trusted_proxies: vec!["127.0.0.2/32".into()],
        forwarded_header: Default::default(),
        pull_interval: Duration::from_secs(30),
        bundle_public_key: bundle_key,
        max_body_bytes: 1024 * 1024,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        max_connections: 16_384,
        max_connections_per_ip: 4_096,
        upstream_timeout: Duration::from_secs(10),
        limits: Limits {
            limiter_max_keys: 10_000,
            token_cache_entries: 1_000,
        },
        redis: None,
        tls_listen: None,
    }
}

pub async fn start(dir: &Path, upstream: SocketAddr, console: &Console) -> Gate {
    Gate::start(settings(dir, upstream, Some(console.public_b64())))
        .await
        .expect("gate starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Pushes envelope bytes; returns the status and JSON answer.
pub async fn push(gate: &Gate, bytes: Vec<u8>) -> (u16, Value) {
    let r = http()
        .post(format!("http://{}/v1/bundle", gate.admin_addr))
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .expect("push");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json answer"))
}

/// GET through the gate with an optional bearer token.
pub async fn get(gate: &Gate, path: &str, token: Option<&str>) -> (u16, HeaderMap, Value) {
    let mut req = http().get(format!("http://{}{path}", gate.addr));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
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

pub async fn metrics(gate: &Gate) -> String {
    metrics_at(gate.admin_addr).await
}

/// The Prometheus text of the admin listener at `admin`.
pub async fn metrics_at(admin: SocketAddr) -> String {
    http()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// Parses the Prometheus text exposition strictly enough to catch a malformed line: every
/// sample is `name{label="value",...} number`, every metric has a TYPE before its samples.
/// Returns (series, value) pairs.
pub fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split(' ');
            let name = p.next().expect("name").to_string();
            let kind = p.next().expect("kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push(name);
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let name = series.split('{').next().expect("name");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    let _ = v;
                }
            }
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| typed.iter().any(|t| t == b))
            .unwrap_or(name);
        assert!(typed.iter().any(|t| t == base), "no TYPE before {line}");
        out.push((series.to_string(), value));
    }
    out
}

pub fn sample(parsed: &[(String, f64)], series: &str) -> f64 {
    parsed
        .iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no series {series}"))
}

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Child,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        RedisServer::start_on(port)
    }

    pub fn start_on(port: u16) -> RedisServer {
        let bin = std::env::var("PALISADE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} does not start ({e}): install redis-server (Debian package redis-server)"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The gate id an [`enrolled_gate`] has at its console.
pub const GATE_ID: &str = "gate-1";

/// A gate enrolled as [`GATE_ID`] with `console` (its `console.json` written as `enroll` would;
/// nothing listens at the console URL, so pulls fail quietly and pushes are what counts), with
/// `adjust` applied to its settings; returns it and its encryption public key.
pub async fn enrolled_gate(
    dir: &Path,
    console: &Console,
    adjust: impl FnOnce(&mut Settings),
) -> (Gate, String) {
    let d = gate::data_dir::DataDir::open(dir).expect("dir");
    d.write_console_link(&gate::data_dir::ConsoleLink {
        console_url: "http://127.0.0.1:9".into(),
        gate_id: GATE_ID.into(),
        bundle_public_key: console.public_b64(),
    })
    .expect("console.json");
    let recipient = d.encryption_key().expect("key").public_b64();
    let up = upstream().await;
    let mut s = settings(dir, up, None);
    adjust(&mut s);
    (Gate::start(s).await.expect("gate starts"), recipient)
}

/// The envelope of `b` as the console delivers it to gate `gate_id` (X25519 key `recipient`)
/// with `secrets` sealed to it, or without secrets.
pub fn deliver(
    console: &Console,
    b: &Bundle,
    secrets: Option<(&policy::secrets::GateSecrets, &str, &str)>,
) -> Vec<u8> {
    use sha2::Digest as _;
    let mut env: policy::bundle::SignedBundle =
        jose::envelope::seal(b, &console.key).expect("seal");
    if let Some((s, gate_id, recipient)) = secrets {
        let hash: String = sha2::Sha256::digest(b.to_payload().expect("payload"))
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        env.secrets = Some(
            jose::sealed::seal(s, recipient, gate_id, b.version, &hash, &console.key)
                .expect("sealed"),
        );
    }
    serde_json::to_vec(&env).expect("json")
}
