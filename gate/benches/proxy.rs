//! Load benchmark of the real `palisade-gate` binary against its peers, measured side by side in
//! one run on loopback (QUALITY.md, "Performance"): throughput of the gate with a JWT check and a
//! keyed limit vs the same binary with the checks off and vs nginx `proxy_pass`, and the
//! limiter's accuracy at overload next to nginx `limit_req`. Every process is started here on
//! free 127.0.0.1 ports and stopped at the end; load comes from `wrk`, bounded in time.
//!
//! `make bench-gate` (installs nginx and wrk from Debian's packages first), or
//! `cargo bench -p gate --bench proxy` with `nginx` and `wrk` on the PATH. Set
//! `PALISADE_BENCH_ROUNDS` (default 3) and `PALISADE_BENCH_SECS` (default 3) to change the
//! throughput runs.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bundle, claims, policy, Console, TokenKey};
use jose::Alg;
use listener::testing::WrkRun;
use policy::bundle::{Route, RouteAuth};
use policy::model::{KeyBy, Mode, PathMatch, Period, Policy};

/// wrk's shape for every run: one thread (the machine has two cores; the rest is for the
/// proxy under test and the upstream), 16 connections.
const WRK_CONNECTIONS: u32 = 16;

fn main() {
    for tool in ["nginx", "wrk"] {
        if Command::new(tool)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "error: `{tool}` is not on the PATH. `make bench-gate` installs nginx and wrk \
                 (Debian packages nginx-light and wrk)."
            );
            std::process::exit(2);
        }
    }
    let rounds: usize = env_num("PALISADE_BENCH_ROUNDS", 3);
    let secs: u64 = env_num("PALISADE_BENCH_SECS", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bench = Bench::start(dir.path());
    bench.throughput(rounds, secs);
    bench.accuracy();
    bench.stop();
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Limits whose accuracy is measured: requests per second, burst, seconds of load.
const ACCURACY: [(u32, u32, u64); 3] = [(10, 5, 10), (1_000, 100, 5), (10_000, 1_000, 5)];

struct Bench {
    upstream: Proc,
    nginx: Proc,
    nginx_port: u16,
    /// The gate as shipped (verified-token cache on).
    gate: Proc,
    gate_port: u16,
    /// The same binary with `--token-cache-entries 0`: every request verifies its signature.
    gate_uncached: Proc,
    gate_uncached_port: u16,
    gate_uncached_admin: SocketAddr,
    token: String,
    report: String,
}

impl Bench {
    fn start(dir: &Path) -> Bench {
        let up_port = free_port();
        let upstream = nginx(
            &dir.join("upstream"),
            1,
            &format!(
                "server {{ listen 127.0.0.1:{up_port}; keepalive_requests 1000000;
                   location / {{ default_type text/plain; return 200 \"ok\\n\"; }} }}"
            ),
        );

        // nginx as the peer proxy: a pooled keep-alive upstream like the gate's, one plain
        // location, one behind a limit that never refuses (its overhead), and the accuracy
        // zones with and without burst.
        let nginx_port = free_port();
        let mut zones =
            String::from("limit_req_zone $binary_remote_addr zone=open:10m rate=1000000r/s;\n");
        let mut locations = String::from(
            "location /plain/ { proxy_pass http://up; }
             location /limited/ { limit_req zone=open burst=1000000 nodelay; proxy_pass http://up; }\n",
        );
        for (rate, burst, _) in ACCURACY {
            let _ = writeln!(
                zones,
                "limit_req_zone $binary_remote_addr zone=r{rate}:10m rate={rate}r/s;"
            );
            let _ = writeln!(
                locations,
                "location /nb{rate}/ {{ limit_req zone=r{rate}; proxy_pass http://up; }}
                 location /b{rate}/ {{ limit_req zone=r{rate} burst={burst} nodelay; proxy_pass http://up; }}"
            );
        }
        let nginx = nginx(
            &dir.join("proxy"),
            2,
            &format!(
                "upstream up {{ server 127.0.0.1:{up_port}; keepalive 64; }}
                 {zones}
                 limit_req_status 429;
                 server {{ listen 127.0.0.1:{nginx_port}; keepalive_requests 1000000;
                   proxy_http_version 1.1; proxy_set_header Connection \"\";
                   {locations} }}"
            ),
        );

        let console = Console::new();
        let key = TokenKey::new(Alg::EdDSA);
        let token = key.token(&claims_for_an_hour());
        let mut b1 = bundle(1, vec![key.bundle_key("active")], bench_policies());
        for (rate, _, _) in ACCURACY {
            b1.routes.push(Route {
                path: PathMatch::Prefix(format!("/acc{rate}")),
                methods: vec![],
                auth: RouteAuth::None,
            });
        }
        let signed = console.sign(&b1);
        let (gate, gate_port, admin) = start_gate(dir, "gate", up_port, &console, "10000");
        let (gate_uncached, gate_uncached_port, admin_uncached) =
            start_gate(dir, "gate-uncached", up_port, &console, "0");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for a in [admin, admin_uncached] {
            let status = rt.block_on(push(a, signed.clone()));
            assert_eq!(status, 200, "the gate refused the benchmark bundle");
        }
        let b = Bench {
            upstream,
            nginx,
            nginx_port,
            gate,
            gate_port,
            gate_uncached,
            gate_uncached_port,
            gate_uncached_admin: admin_uncached,
            token,
            report: String::new(),
        };
        // Every path answers 200 before anything is measured.
        for (port, path, auth) in b.targets().iter().map(|t| (t.port, t.path, t.auth)) {
            let r = wrk(port, path, auth.then_some(b.token.as_str()), 1);
            assert!(
                r.requests > 0 && r.refused == 0,
                "warm-up of {path} on {port}: {r:?}"
            );
        }
        b
    }

    fn targets(&self) -> Vec<Target> {
        vec![
            Target {
                name: "nginx proxy_pass",
                port: self.nginx_port,
                path: "/plain/x",
                auth: false,
            },
            Target {
                name: "nginx proxy_pass + limit_req",
                port: self.nginx_port,
                path: "/limited/x",
                auth: false,
            },
            Target {
                name: "gate, checks off",
                port: self.gate_port,
                path: "/public/x",
                auth: false,
            },
            Target {
                name: "gate, keyed limit",
                port: self.gate_port,
                path: "/limited/x",
                auth: false,
            },
            Target {
                name: "gate, JWT (cached) + keyed limit",
                port: self.gate_port,
                path: "/api/x",
                auth: true,
            },
            Target {
                name: "gate, JWT (EdDSA, uncached) + keyed limit",
                port: self.gate_uncached_port,
                path: "/api/x",
                auth: true,
            },
        ]
    }

    /// Requests per second of each target, A/B interleaved over `rounds`, median printed.
    fn throughput(&mut self, rounds: usize, secs: u64) {
        let targets = self.targets();
        let mut rps: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
        for round in 0..rounds {
            // Rotate the order each round so no target always runs first or last.
            for i in 0..targets.len() {
                let t = &targets[(i + round) % targets.len()];
                let r = wrk(t.port, t.path, t.auth.then_some(self.token.as_str()), secs);
                assert_eq!(r.refused, 0, "{}: {r:?}", t.name);
                rps[(i + round) % targets.len()].push(r.rps);
            }
        }
        let med: Vec<f64> = rps.iter_mut().map(|v| median(v)).collect();
        let (nginx, nginx_lim, bare, lim, jwt, uncached) =
            (med[0], med[1], med[2], med[3], med[4], med[5]);
        let mut out = format!(
            "\nThroughput: wrk -t1 -c{WRK_CONNECTIONS}, {secs} s per run, median of {rounds} \
             interleaved rounds, upstream nginx `return 200` (1 worker)\n"
        );
        for (t, r) in targets.iter().zip(&rps) {
            let runs: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
            let _ = writeln!(
                out,
                "  {:<44} {:>8.0} req/s   (runs: {})",
                t.name,
                median(&mut r.clone()),
                runs.join(", ")
            );
        }
        let (verifies, verify_us) = mean_verify(self.gate_uncached_admin);
        let _ = writeln!(
            out,
            "  (the uncached gate's own metric: {verifies} verifications, mean {verify_us:.1} µs \
             each under this load)"
        );
        let _ = writeln!(out, "\nRatios:");
        ratio(
            &mut out,
            "JWT (cached) + limit vs checks off",
            jwt / bare,
            0.85,
        );
        ratio(
            &mut out,
            "JWT (uncached EdDSA) + limit vs checks off",
            uncached / bare,
            0.5,
        );
        ratio(
            &mut out,
            "gate checks off vs nginx proxy_pass",
            bare / nginx,
            0.0,
        );
        ratio(
            &mut out,
            "gate JWT (cached) + limit vs nginx proxy_pass",
            jwt / nginx,
            0.0,
        );
        let gate_cost = 100.0 * (1.0 - lim / bare);
        let nginx_cost = 100.0 * (1.0 - nginx_lim / nginx);
        let _ = writeln!(
            out,
            "  rate-limit overhead: gate {gate_cost:.1} % vs nginx limit_req {nginx_cost:.1} % \
             (goal: at most nginx's + 2 points) {}",
            verdict(gate_cost <= nginx_cost + 2.0)
        );
        print!("{out}");
        self.report.push_str(&out);
    }

    /// Admitted requests at overload for each limit in [`ACCURACY`]: the gate (its policy has
    /// the same burst) vs nginx `limit_req` with `burst=… nodelay` and without burst.
    fn accuracy(&mut self) {
        let mut out = String::from(
            "\nLimiter accuracy: one client IP at full wrk speed, admitted = 2xx answers; \
             expected = rate·t + burst\n",
        );
        let _ = writeln!(
            out,
            "  {:<10} {:<28} {:>9} {:>9} {:>9} {:>10}",
            "limit", "limiter", "offered×", "admitted", "expected", "deviation"
        );
        for (rate, burst, secs) in ACCURACY {
            let runs = [
                (
                    "gate (GCRA)",
                    self.gate_port,
                    format!("/acc{rate}/x"),
                    burst,
                ),
                (
                    "nginx limit_req burst nodelay",
                    self.nginx_port,
                    format!("/b{rate}/x"),
                    burst,
                ),
                (
                    "nginx limit_req, no burst",
                    self.nginx_port,
                    format!("/nb{rate}/x"),
                    0,
                ),
            ];
            for (name, port, path, burst) in runs {
                // A fresh limiter key state: wait out anything an earlier run left.
                std::thread::sleep(Duration::from_millis(
                    1_100 + 1_000 * u64::from(burst) / u64::from(rate),
                ));
                let r = wrk(port, &path, None, secs);
                let admitted = r.requests - r.refused;
                let expected = f64::from(rate) * r.secs + f64::from(burst);
                let dev = 100.0 * (admitted as f64 - expected) / expected;
                let _ = writeln!(
                    out,
                    "  {:<10} {:<28} {:>9.0} {:>9} {:>9.0} {:>+9.1} %{}",
                    format!("{rate} r/s"),
                    name,
                    r.requests as f64 / r.secs / f64::from(rate),
                    admitted,
                    expected,
                    dev,
                    if name.starts_with("gate") {
                        format!("  {}", verdict(dev.abs() <= 2.0))
                    } else {
                        String::new()
                    }
                );
            }
        }
        print!("{out}");
        self.report.push_str(&out);
    }

    fn stop(self) {
        for p in [self.gate, self.gate_uncached, self.nginx, self.upstream] {
            p.stop();
        }
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-gate.txt");
        if std::fs::write(&path, &self.report).is_ok() {
            println!("\n(report written to {})", path.display());
        }
    }
}

struct Target {
    name: &'static str,
    port: u16,
    path: &'static str,
    auth: bool,
}

/// The bundle's policies: a limit keyed by IP on `/limited` and one keyed by client id on `/api`
/// that never refuse at this load (their cost is measured), and the accuracy limits.
fn bench_policies() -> Vec<Policy> {
    let open = |id: &str, order: u32, path: &str, key: KeyBy| {
        let mut p = policy(
            id,
            order,
            1_000_000,
            Period::Second,
            1_000_000,
            Mode::Enforce,
        );
        p.matcher.path = PathMatch::Prefix(path.into());
        p.key = key;
        p
    };
    let mut ps = vec![
        open("per-ip", 1, "/limited", KeyBy::Ip),
        open("per-client", 2, "/api", KeyBy::Client),
    ];
    for (i, (rate, burst, _)) in ACCURACY.into_iter().enumerate() {
        let mut p = policy(
            &format!("acc{rate}"),
            10 + i as u32,
            rate,
            Period::Second,
            burst,
            Mode::Enforce,
        );
        p.matcher.path = PathMatch::Prefix(format!("/acc{rate}"));
        ps.push(p);
    }
    ps
}

/// The access-token claims of the tests, valid for an hour (the run is shorter).
fn claims_for_an_hour() -> serde_json::Value {
    let mut c = claims();
    c["exp"] = serde_json::json!(common::now_s() + 3_600);
    c
}

/// A child process, stopped with SIGTERM (nginx's master then stops its workers).
struct Proc {
    child: Child,
}

impl Proc {
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An nginx with its own prefix directory, `workers` worker processes, no access log, and
/// `http_body` inside its `http {}` block. Its first `listen` port is waited for.
fn nginx(prefix: &Path, workers: u32, http_body: &str) -> Proc {
    std::fs::create_dir_all(prefix.join("logs")).expect("nginx dir");
    let conf = format!(
        "daemon off; master_process on; worker_processes {workers};
         pid {p}/nginx.pid; error_log {p}/logs/error.log warn;
         events {{ worker_connections 4096; }}
         http {{ access_log off;
           client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;
           fastcgi_temp_path {p}/fcgi; uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;
           {http_body} }}\n",
        p = prefix.display()
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, &conf).expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let port: u16 = conf
        .split("listen 127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .expect("a listen port in the nginx config");
    wait_listening(port, "nginx");
    Proc { child }
}

/// The release `palisade-gate` binary in front of the upstream, trusting `console`'s bundle key;
/// returns it with its proxy port and admin address.
fn start_gate(
    dir: &Path,
    name: &str,
    upstream: u16,
    console: &Console,
    cache: &str,
) -> (Proc, u16, SocketAddr) {
    let port = free_port();
    let admin = free_port();
    let data = dir.join(name);
    std::fs::create_dir_all(&data).expect("gate dir");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("gate log");
    let child = Command::new(env!("CARGO_BIN_EXE_palisade-gate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--upstream", &format!("http://127.0.0.1:{upstream}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--bundle-public-key", &console.public_b64()])
        .args(["--token-cache-entries", cache])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start palisade-gate");
    wait_listening(admin, "palisade-gate");
    (
        Proc { child },
        port,
        SocketAddr::from(([127, 0, 0, 1], admin)),
    )
}

/// Count and mean duration (µs) of the gate's token verifications, from its `/metrics`.
fn mean_verify(admin: SocketAddr) -> (u64, f64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let text = rt.block_on(common::metrics_at(admin));
    let parsed = common::parse_prometheus(&text);
    let count = common::sample(&parsed, "palisade_gate_jwt_verify_seconds_count");
    let sum = common::sample(&parsed, "palisade_gate_jwt_verify_seconds_sum");
    (
        count as u64,
        if count > 0.0 { sum / count * 1e6 } else { 0.0 },
    )
}

async fn push(admin: SocketAddr, envelope: Vec<u8>) -> u16 {
    common::http()
        .post(format!("http://{admin}/v1/bundle"))
        .header("content-type", "application/json")
        .body(envelope)
        .send()
        .await
        .expect("push")
        .status()
        .as_u16()
}

/// One `wrk` run with this benchmark's shape (one thread, [`WRK_CONNECTIONS`]).
fn wrk(port: u16, path: &str, token: Option<&str>, secs: u64) -> WrkRun {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    listener::testing::wrk(port, path, auth.as_slice(), WRK_CONNECTIONS, secs)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ratio(out: &mut String, what: &str, r: f64, goal: f64) {
    if goal > 0.0 {
        let _ = writeln!(
            out,
            "  {what:<48} {r:>5.2}×  (goal ≥ {goal}×) {}",
            verdict(r >= goal)
        );
    } else {
        let _ = writeln!(out, "  {what:<48} {r:>5.2}×");
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "BELOW GOAL"
    }
}
