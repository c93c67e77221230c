//! Test harness: a real console (the `server` library's `Application`) on port 0 with a fresh
//! SQLite database in a temp dir, and an HTTP client that calls it the way a browser would.

#![allow(dead_code)]

pub mod soft_authenticator;

use std::sync::Arc;

use domain::ports::Store;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use server::config::Config;
use server::startup::Application;
use soft_authenticator::SoftAuthenticator;

pub struct TestApp {
    pub base: String,
    pub setup_url: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    /// The listener's open and refused connections.
    pub connections: listener::Stats,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `name=value` part of the session cookie this reply sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("palisade_session=") && !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// A second connection to the console's SQLite database in `dir`, with the audit chain's key
/// loaded from the master key there (so the tests can verify the keyed chain).
pub async fn second_connection(dir: &std::path::Path) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.join("palisade.db").display());
    let store = store::SqlStore::open(&url)
        .await
        .expect("second connection");
    let key_file = std::fs::read_to_string(dir.join("master.key")).expect("master key");
    let master = domain::seal::MasterKey::from_file_text(&key_file).expect("master key text");
    domain::console::load_chain_key(&store, &master)
        .await
        .expect("chain key");
    Arc::new(store)
}

/// The defaults `palisade --data-dir DIR` runs with, on a free port, with a 2 s header
/// timeout and the rotation job out of the way (tests run its steps themselves).
pub fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::for_data_dir(dir);
    c.addr = "127.0.0.1:0".parse().expect("addr");
    c.header_timeout_secs = 2;
    c.rotation_tick_secs = 3600;
    c
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`] with the configuration changed by `adjust` first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config(dir.path());
        adjust(&mut config);
        let app = Application::build(config).await.expect("console builds");
        let base = app.public_url().as_str().trim_end_matches('/').to_owned();
        let setup_url = app
            .first_run_setup_url()
            .await
            .expect("setup url")
            .expect("no admin yet");
        let connections = app.connections.clone();
        tokio::spawn(app.run_until_stopped());
        let store = second_connection(dir.path()).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            base,
            setup_url,
            client,
            store,
            dir,
            connections,
        }
    }

    /// A harness for a console already running at `base` (the real binary, started by the
    /// test) on the SQLite database in `dir`; `connections` counts nothing for it.
    pub async fn attach(base: String, setup_url: String, dir: tempfile::TempDir) -> TestApp {
        TestApp {
            base,
            setup_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            store: second_connection(dir.path()).await,
            dir,
            connections: listener::Stats::default(),
        }
    }

    /// The port the console listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the base URL ends with the port")
    }

    pub fn setup_token(&self) -> String {
        self.setup_url
            .split("token=")
            .nth(1)
            .expect("token in url")
            .to_owned()
    }

    /// Calls the server fn `name` as the hydrated page does: POST, form-encoded, same-origin
    /// headers.
    pub async fn call(&self, name: &str, args: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(&self.base).expect("origin"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        self.call_with(name, args, cookie, headers).await
    }

    pub async fn call_with(
        &self,
        name: &str,
        args: &[(&str, &str)],
        cookie: Option<&str>,
        mut headers: HeaderMap,
    ) -> Reply {
        if let Some(c) = cookie {
            headers.insert("cookie", HeaderValue::from_str(c).expect("cookie"));
        }
        let res = self
            .client
            .post(format!("{}{}/{name}", self.base, server::ui::FN_PREFIX))
            .headers(headers)
            .form(args)
            .send()
            .await
            .expect("request");
        reply(res).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        reply(req.send().await.expect("request")).await
    }

    pub async fn audit_count(&self) -> usize {
        self.store.recent_audit(100_000).await.expect("audit").len()
    }

    pub async fn last_event(&self) -> domain::audit::AuditEvent {
        self.store.recent_audit(1).await.expect("audit").remove(0)
    }

    /// Registers the first owner with `soft`; returns the session cookie.
    pub async fn setup_owner(&self, soft: &mut SoftAuthenticator, username: &str) -> String {
        let token = self.setup_token();
        self.join(soft, "setup", &token, username, "Test Owner")
            .await
            .session_cookie()
            .expect("setup signs the owner in")
    }

    /// Registers `soft`'s new passkey through `start_{via}` / `finish_{via}` (`setup` or
    /// `invite`) with the link's token; returns the finishing reply (200 asserted).
    async fn join(
        &self,
        soft: &mut SoftAuthenticator,
        via: &str,
        token: &str,
        username: &str,
        display_name: &str,
    ) -> Reply {
        let started = self
            .call(
                &format!("start_{via}"),
                &[
                    ("token", token),
                    ("username", username),
                    ("display_name", display_name),
                ],
                None,
            )
            .await;
        assert_eq!(started.status, 200, "start_{via}: {}", started.body);
        let v = started.json();
        let options: Value =
            serde_json::from_str(v["options"].as_str().expect("options")).expect("options json");
        let credential = soft.register(&options, &self.base).to_string();
        let done = self
            .call(
                &format!("finish_{via}"),
                &[
                    ("ceremony_id", v["ceremony_id"].as_str().expect("id")),
                    ("credential", &credential),
                ],
                None,
            )
            .await;
        assert_eq!(done.status, 200, "finish_{via}: {}", done.body);
        done
    }

    /// [`Self::setup_owner`] with a fresh authenticator, then a step-up, for tests whose
    /// actions need a passkey confirmation (it lasts five minutes); returns the cookie.
    pub async fn confirmed_owner(&self, username: &str) -> String {
        let mut soft = SoftAuthenticator::new();
        let mut cookie = self.setup_owner(&mut soft, username).await;
        let r = self.step_up(&mut soft, &mut cookie).await;
        assert_eq!(r.status, 200, "step-up: {}", r.body);
        cookie
    }

    /// Starts a sign-in; returns (ceremony id, options).
    pub async fn start_login(&self, username: &str) -> (String, Value) {
        let r = self
            .call("start_login", &[("username", username)], None)
            .await;
        assert_eq!(r.status, 200, "start_login: {}", r.body);
        let v = r.json();
        let options =
            serde_json::from_str(v["options"].as_str().expect("options")).expect("options json");
        (v["ceremony_id"].as_str().expect("id").to_owned(), options)
    }

    pub async fn finish_login(
        &self,
        ceremony_id: &str,
        credential: &Value,
        cookie: Option<&str>,
    ) -> Reply {
        self.call(
            "finish_login",
            &[
                ("ceremony_id", ceremony_id),
                ("credential", &credential.to_string()),
            ],
            cookie,
        )
        .await
    }

    /// Confirms the session's admin with a passkey (step-up) so sensitive actions pass. The
    /// session continues under a new id: on success `cookie` becomes the new one.
    pub async fn step_up(&self, soft: &mut SoftAuthenticator, cookie: &mut String) -> Reply {
        let r = self.call("start_step_up", &[], Some(cookie)).await;
        assert_eq!(r.status, 200, "start_step_up: {}", r.body);
        let v = r.json();
        let options: Value =
            serde_json::from_str(v["options"].as_str().expect("options")).expect("options json");
        let assertion = soft.authenticate(&options, &self.base);
        let r = self
            .call(
                "finish_step_up",
                &[
                    ("ceremony_id", v["ceremony_id"].as_str().expect("id")),
                    ("credential", &assertion.to_string()),
                ],
                Some(cookie),
            )
            .await;
        if r.status == 200 {
            *cookie = r
                .session_cookie()
                .expect("a step-up gives the session a new id");
        }
        r
    }

    /// A full passkey sign-in; returns the new session cookie.
    pub async fn sign_in(&self, soft: &mut SoftAuthenticator, username: &str) -> String {
        let (id, options) = self.start_login(username).await;
        let assertion = soft.authenticate(&options, &self.base);
        let r = self.finish_login(&id, &assertion, None).await;
        assert_eq!(r.status, 200, "finish_login: {}", r.body);
        r.session_cookie().expect("sign-in sets the session cookie")
    }
}

impl TestApp {
    /// Invites a `role` admin as `by` (whose session must be stepped up), and has a new
    /// authenticator join with `username`; returns it and the new admin's session cookie.
    pub async fn invite(
        &self,
        by_cookie: &str,
        role: &str,
        username: &str,
    ) -> (SoftAuthenticator, String) {
        let r = self
            .call(
                "create_invite",
                &[("role", role), ("label", "test")],
                Some(by_cookie),
            )
            .await;
        assert_eq!(r.status, 200, "create_invite: {}", r.body);
        let url = r.json()["url"].as_str().expect("url").to_owned();
        let token = url
            .split('#')
            .nth(1)
            .expect("token in the fragment")
            .to_owned();
        let mut soft = SoftAuthenticator::new();
        let done = self
            .join(&mut soft, "invite", &token, username, "Invited Admin")
            .await;
        let cookie = done.session_cookie().expect("joining signs the admin in");
        (soft, cookie)
    }
}

async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}
