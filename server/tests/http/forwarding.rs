//! Forwarding the audit log to a syslog collector (`--audit-syslog`): a receiver started and
//! stopped by the test reads the octet-counted RFC 5424 messages with an independent parser
//! (`syslog_rfc5424`). Across a receiver outage and a console restart it sees every event once
//! and in order; changes made while it is down answer at once; the Audit page's status shows
//! the lag and the error; an untrusted certificate sends nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::audit::{Actor, AuditDraft, AuditFilter, Outcome};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::cli::{start_binary_with, wait_ready};
use crate::support::TestApp;

/// One message as the receiver parsed it.
#[derive(Clone, Debug)]
struct Got {
    seq: i64,
    action: String,
    hash: String,
}

/// A syslog collector on 127.0.0.1:`port` (TLS when `tls` is given), appending what it parses
/// to `got`. Stopping it drops the listener and every connection, unread data included.
struct Receiver {
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Receiver {
    async fn start(port: u16, tls: Option<TlsAcceptor>, got: Arc<Mutex<Vec<Got>>>) -> Receiver {
        // The port may still be held by the receiver stopped a moment ago.
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let listener = listener.expect("the receiver binds its port");
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let conns = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (tls, got) = (tls.clone(), got.clone());
                let conn = tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                read_frames(stream, got).await;
                            }
                        }
                        None => read_frames(tcp, got).await,
                    }
                });
                conns.lock().expect("tasks").push(conn);
            }
        });
        tasks.lock().expect("tasks").push(accept);
        Receiver { tasks }
    }

    async fn stop(self) {
        for t in self.tasks.lock().expect("tasks").drain(..) {
            t.abort();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads `len SP message` frames until the connection ends; each message must parse as RFC
/// 5424 and carry our structured data with the event's `seq`, equal to the one in its JSON.
async fn read_frames(mut stream: impl tokio::io::AsyncRead + Unpin, got: Arc<Mutex<Vec<Got>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(space) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..space])
                .expect("frame length is ASCII")
                .parse()
                .expect("frame length is a number");
            if buf.len() < space + 1 + len {
                break;
            }
            let text = String::from_utf8(buf[space + 1..space + 1 + len].to_vec()).expect("UTF-8");
            buf.drain(..space + 1 + len);
            let m = syslog_rfc5424::parse_message(&text).expect("RFC 5424");
            let sd = m.sd.find_sdid("audit@32473").expect("our structured data");
            let seq: i64 = sd.get("seq").expect("seq").parse().expect("seq number");
            let body: Value =
                serde_json::from_str(m.msg.trim_start_matches('\u{feff}')).expect("JSON message");
            assert_eq!(body["seq"], seq, "{text}");
            got.lock().expect("got").push(Got {
                seq,
                action: m.msgid.clone().expect("msgid"),
                hash: sd.get("hash").expect("hash").clone(),
            });
        }
    }
}

/// A root CA (PEM) and a TLS acceptor presenting a `localhost` leaf it issued.
fn tls_collector() -> (String, TlsAcceptor) {
    let (chain, leaf_key, ca_pem) = crate::probe::ca_and_leaf_with_ca_pem();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    (ca_pem, TlsAcceptor::from(Arc::new(config)))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn save_policy(app: &TestApp, cookie: &str, name: &str) {
    let spec = json!({
        "id": "", "name": name, "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": "/api/" }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "ip",
        "limit": { "rate": 10, "per": "second", "burst": 5 },
        "scope": "cluster", "action": "reject", "mode": "enforce"
    });
    let started = Instant::now();
    let r = app
        .call(
            "save_policy",
            &[("spec_json", &spec.to_string()), ("version", "")],
            Some(cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a change waits for no collector: {:?}",
        started.elapsed()
    );
}

/// The Audit page's forwarding status (one destination).
async fn status(app: &TestApp, cookie: &str) -> Value {
    let r = app.call("audit_forwarding", &[], Some(cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    list[0].clone()
}

/// Waits until the console says the collector is up to date and the receiver holds the
/// newest event.
async fn caught_up(app: &TestApp, cookie: &str, got: &Arc<Mutex<Vec<Got>>>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(app, cookie).await;
        let last = got.lock().expect("got").last().map(|g| g.seq);
        if s["behind"] == 0 && last == s["head_seq"].as_i64() && s["active"] == true {
            assert_eq!(s["last_error"], Value::Null, "{s}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never caught up: {s}, receiver at {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_event_reaches_the_collector_once_and_in_order_across_an_outage_and_a_restart() {
    let (ca_pem, acceptor) = tls_collector();
    let files = tempfile::tempdir().expect("tempdir");
    let ca_file = files.path().join("collector-ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("ca file");
    let (syslog_port, port) = (free_port(), free_port());
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let receiver = Receiver::start(syslog_port, Some(acceptor.clone()), got.clone()).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let destination = format!("tls://localhost:{syslog_port}");
    let ca_arg = ca_file.to_str().expect("utf-8 path").to_owned();
    let flags = ["--audit-syslog", &destination, "--audit-syslog-ca", &ca_arg];
    let base = format!("http://localhost:{port}");
    let (console, setup) = start_binary_with(
        dir.path(),
        port,
        "error",
        std::process::Stdio::inherit(),
        &flags,
    );
    wait_ready(&base).await;
    let app = TestApp::attach(base.clone(), setup.expect("setup URL"), dir).await;
    let cookie = app.confirmed_owner("alice").await;
    for name in ["login", "search", "export"] {
        save_policy(&app, &cookie, name).await;
    }
    caught_up(&app, &cookie, &got).await;

    // The collector goes away: changes still answer at once, and the page shows the lag and
    // the reason.
    receiver.stop().await;
    for i in 0..5 {
        save_policy(&app, &cookie, &format!("during-outage-{i}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let during = loop {
        let s = status(&app, &cookie).await;
        if s["behind"].as_i64() >= Some(5) && s["last_error"].is_string() {
            break s;
        }
        assert!(Instant::now() < deadline, "no lag or error shown: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        during["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&destination) && e.contains("connect")),
        "{during}"
    );

    // It comes back on the same port: forwarding resumes from the cursor.
    let receiver = Receiver::start(syslog_port, Some(acceptor.clone()), got.clone()).await;
    caught_up(&app, &cookie, &got).await;

    // The console stops; another writer (a replica, here the test's own connection) appends
    // while none runs; the console starts again and sends from where it stopped.
    let pid = console.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());
    let mut console = console;
    console.wait().expect("stopped");
    let who = Actor {
        name: "replica".into(),
        ip: None,
        user_agent: None,
    };
    for i in 0..3 {
        app.store
            .record(AuditDraft::new(
                &who,
                "test.while_stopped",
                format!("n:{i}"),
                Outcome::Success,
            ))
            .await
            .expect("append");
    }
    let (console, setup) = start_binary_with(
        app.dir.path(),
        port,
        "error",
        std::process::Stdio::inherit(),
        &flags,
    );
    assert!(setup.is_none());
    wait_ready(&base).await;
    caught_up(&app, &cookie, &got).await;
    drop(console);
    receiver.stop().await;

    // Every event of the log, once, in order, with its own hash and action.
    let log = app
        .store
        .search_audit(&AuditFilter::default(), None, 100_000)
        .await
        .expect("log");
    let mut log: Vec<_> = log.into_iter().rev().collect();
    log.sort_by_key(|e| e.seq);
    let got = got.lock().expect("got").clone();
    assert_eq!(
        got.iter().map(|g| g.seq).collect::<Vec<_>>(),
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        "every event once and in order"
    );
    for (g, e) in got.iter().zip(&log) {
        assert_eq!(
            (g.action.as_str(), g.hash.as_str()),
            (e.action.as_str(), e.hash.as_str())
        );
    }
    assert!(
        log.iter()
            .filter(|e| e.action == "test.while_stopped")
            .count()
            == 3
    );
    let added: Vec<_> = log
        .iter()
        .filter(|e| e.action == "audit.forwarding_added")
        .collect();
    assert_eq!(added.len(), 1, "announced once, not at every start");
    assert_eq!(added[0].target, format!("audit_forwarding:{destination}"));
}

/// Plain TCP works the same; a TLS collector whose certificate does not chain to the given CA
/// receives nothing, and the page says why.
#[tokio::test]
async fn plain_tcp_forwards_and_an_untrusted_collector_gets_nothing() {
    let port = free_port();
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let receiver = Receiver::start(port, None, got.clone()).await;
    let app =
        TestApp::spawn_with(|c| c.audit_syslog = Some(format!("tcp://127.0.0.1:{port}"))).await;
    let cookie = app.confirmed_owner("alice").await;
    caught_up(&app, &cookie, &got).await;
    assert_eq!(got.lock().expect("got")[0].seq, 1);
    receiver.stop().await;

    let (_, acceptor) = tls_collector();
    let (other_ca, _) = tls_collector();
    let files = tempfile::tempdir().expect("tempdir");
    let ca_file = files.path().join("other-ca.pem");
    std::fs::write(&ca_file, other_ca).expect("ca file");
    let port = free_port();
    let untrusted: Arc<Mutex<Vec<Got>>> = Arc::default();
    let receiver = Receiver::start(port, Some(acceptor), untrusted.clone()).await;
    let app = TestApp::spawn_with(|c| {
        c.audit_syslog = Some(format!("tls://localhost:{port}"));
        c.audit_syslog_ca = Some(ca_file.clone());
    })
    .await;
    let cookie = app.confirmed_owner("alice").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let s = loop {
        let s = status(&app, &cookie).await;
        if s["last_error"].is_string() {
            break s;
        }
        assert!(Instant::now() < deadline, "no error shown: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("TLS") && e.contains("certificate")),
        "{s}"
    );
    assert_eq!(s["sent_seq"], 0, "{s}");
    assert!(untrusted.lock().expect("got").is_empty());
    receiver.stop().await;
}

/// A URL the console cannot use stops it at startup, saying what to write instead.
#[tokio::test]
async fn a_bad_collector_url_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = crate::cli::palisade(
        dir.path(),
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--audit-syslog",
            "udp://siem:514",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("tcp://host:port or tls://host:port"), "{out}");
}
