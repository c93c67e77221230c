//! QUALITY.md "database locked": another process holds an exclusive lock on the SQLite file for
//! 10 s while 100 changes arrive. Each change either commits (after the lock) or gets 503 with
//! Retry-After; none is half-applied (every committed policy has its audit row, the chain
//! verifies), and the console takes changes again without a restart.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::json;

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

fn spec(name: &str) -> String {
    json!({
        "id": "", "name": name, "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": "/" }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "ip", "limit": { "rate": 10, "per": "second", "burst": 5 },
        "scope": "cluster", "action": "reject", "mode": "shadow"
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_gives_503_or_a_whole_change_never_half() {
    let app = Arc::new(TestApp::spawn().await);
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    let db = app.dir.path().join("palisade.db");
    // Another process (Python's sqlite3, as an operator's script would) takes the write lock.
    let mut locker = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(10)\n\
             c.execute('COMMIT')\n",
            db.to_str().expect("path"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (it holds the database lock)");
    let mut line = String::new();
    BufReader::new(locker.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");

    let mut tasks = Vec::new();
    for i in 0..100 {
        let (app, cookie) = (app.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let r = app
                .call(
                    "save_policy",
                    &[("spec_json", &spec(&format!("p{i:03}"))), ("version", "")],
                    Some(&cookie),
                )
                .await;
            (i, r.status, r.headers.get("retry-after").is_some())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    assert!(locker.wait().expect("locker").success());

    let committed: Vec<usize> = results.iter().filter(|r| r.1 == 200).map(|r| r.0).collect();
    let refused = results.iter().filter(|r| r.1 == 503).count();
    eprintln!(
        "database locked 10 s: {} committed after the lock, {refused} refused with 503",
        committed.len()
    );
    assert_eq!(
        committed.len() + refused,
        100,
        "only 200 or 503: {results:?}"
    );
    assert!(
        refused > 0,
        "a 10 s lock outlasts the 5 s busy timeout: some changes are refused"
    );
    assert!(
        results.iter().filter(|r| r.1 == 503).all(|r| r.2),
        "503 carries Retry-After"
    );

    // Exactly the answered policies exist, each with its audit row; the chain verifies.
    let list = app.call("list_policies", &[], Some(&cookie)).await.json();
    let mut names: Vec<String> = list["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p["policy"]["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = committed.iter().map(|i| format!("p{i:03}")).collect();
    assert_eq!(names, expected);
    let events = app.store.recent_audit(100_000).await.expect("audit");
    let created = events
        .iter()
        .filter(|e| e.action == "policies.create" && e.outcome == domain::audit::Outcome::Success)
        .count();
    assert_eq!(
        created,
        committed.len(),
        "one audit row per committed change, none without"
    );
    assert!(app.store.verify_audit(None).await.expect("verify").is_ok());

    // Recovered without a restart.
    let r = app
        .call(
            "save_policy",
            &[("spec_json", &spec("after the lock")), ("version", "")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
