//! The REST API against its own OpenAPI document: the document is served without a token and
//! is OpenAPI 3.1 naming every route, and schemathesis (an independent fuzzer, in the
//! virtualenv `scripts/install-deps.sh` makes) runs every check on every operation with a token
//! of each scope and of all: no 5xx, and every status, content type, header and body the
//! console answers is one the document declares.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::api_tokens::{console_with_a_pinset, create_token};

fn schemathesis() -> std::path::PathBuf {
    let venv = std::env::var_os("PALISADE_SCHEMATHESIS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis-venv")
        });
    let bin = venv.join("bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/install-deps.sh",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let (app, cookie) = console_with_a_pinset().await;

    let doc = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status, 200, "served without a token: {}", doc.body);
    let doc: Value = serde_json::from_str(&doc.body).expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{doc}"
    );
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    assert_eq!(
        paths,
        [
            "/api/v1/audit",
            "/api/v1/certificates",
            "/api/v1/clients",
            "/api/v1/clients/{id}",
            "/api/v1/csrs",
            "/api/v1/csrs/{id}/certificate",
            "/api/v1/gates",
            "/api/v1/keysets",
            "/api/v1/keysets/{id}/jwks",
            "/api/v1/pinsets",
            "/api/v1/pinsets/{hostname}",
            "/api/v1/pinsets/{hostname}/export/{format}",
            "/api/v1/policies",
            "/api/v1/releases"
        ]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_token"]["scheme"],
        "bearer"
    );

    assert_eq!(
        doc["components"]["schemas"]["ReleaseRequest"]["allOf"][2]["then"],
        serde_json::json!({ "required": ["platform"] }),
        "a json release must name its platform"
    );

    // One hostname pattern on every hostname a request names.
    let pattern =
        &doc["components"]["schemas"]["ReleaseRequest"]["properties"]["hostname"]["pattern"];
    assert!(
        pattern.as_str().is_some_and(|p| p.starts_with('^')),
        "{doc}"
    );
    assert_eq!(
        &doc["components"]["schemas"]["CsrRequest"]["properties"]["hostname"]["pattern"],
        pattern
    );
    for path in [
        "/api/v1/pinsets/{hostname}",
        "/api/v1/pinsets/{hostname}/export/{format}",
    ] {
        assert_eq!(
            &doc["paths"][path]["get"]["parameters"][0]["schema"]["pattern"], pattern,
            "{path}"
        );
    }

    let bin = schemathesis();
    let url = format!("{}/api/v1/openapi.json", app.base);
    // A token with every scope must have every valid request accepted; one with a single scope
    // is refused the other operations (403, declared), so that check is left out for it, and
    // it runs fewer examples (its refusals are all alike).
    let every = policy::api_tokens::scopes_text(&policy::api_tokens::Scope::ALL);
    let mut runs = vec![(every, None, "60")];
    for s in policy::api_tokens::Scope::ALL {
        runs.push((
            s.as_str().to_owned(),
            Some("positive_data_acceptance"),
            "15",
        ));
    }
    // Every token first, while the owner's passkey confirmation is fresh.
    let mut tokens = Vec::new();
    for (scopes, _, _) in &runs {
        let name: String = format!("fuzz {}", scopes.replace(' ', "+"))
            .chars()
            .take(100)
            .collect();
        tokens.push(create_token(&app, &cookie, &name, scopes).await.1);
    }
    for ((scopes, excluded, examples), token) in runs.into_iter().zip(tokens) {
        let scopes = scopes.as_str();
        let started = std::time::Instant::now();
        // A fixed seed keeps CI repeatable; another one explores more (`PALISADE_FUZZ_SEED`).
        let seed = std::env::var("PALISADE_FUZZ_SEED").unwrap_or_else(|_| "1".into());
        let out = tokio::task::spawn_blocking({
            let (bin, url) = (bin.clone(), url.clone());
            move || {
                let mut cmd = Command::new(bin);
                cmd.arg("--config-file").arg(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/schemathesis.toml"),
                );
                cmd.args([
                    "run",
                    &url,
                    "--header",
                    &format!("Authorization: Bearer {token}"),
                    // (Every check runs by default; `--checks all` would also override the
                    // per-operation settings of schemathesis.toml.)
                    "--max-examples",
                    examples,
                    "--workers",
                    "1",
                    "--seed",
                    &seed,
                    "--no-color",
                ]);
                // Every request and its timing, for a look at a slow run.
                if let Some(dir) = std::env::var_os("PALISADE_FUZZ_REPORT") {
                    cmd.args(["--report", "har", "--report-dir"]).arg(dir);
                }
                if let Some(check) = excluded {
                    cmd.args(["--exclude-checks", check]);
                }
                cmd.output().expect("schemathesis runs")
            }
        })
        .await
        .expect("joined");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "token with {scopes}:\n{text}");
        eprintln!(
            "schemathesis with {scopes}: {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}
