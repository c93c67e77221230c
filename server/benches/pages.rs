//! Static assets and server-rendered pages side by side (QUALITY.md, "Performance"; issue 14,
//! item 1): requests per second for `/favicon.svg`, `/pkg/palisade.css`, the server-rendered
//! `/login`, and a static file of exactly `/login`'s size served by the same console, in one
//! run on loopback, rounds interleaved, medians printed with the ratios the goals are about:
//! the CSS at least 0.5x the favicon (no per-response stall, as Nagle's algorithm caused), the
//! SSR page at least 0.5x the static file of its size.
//!
//! `cargo bench -p server --bench pages` after `make site` (it serves the built site), with
//! `wrk` on the PATH (`make bench-pages` installs it). `PALISADE_BENCH_ROUNDS` (default 3) and
//! `PALISADE_BENCH_SECS` (default 3) set the runs.

use std::path::Path;

use listener::testing::wrk;

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    if !site.join("pkg/palisade.css").is_file() {
        eprintln!(
            "error: no built site in {}: run `make site` first",
            site.display()
        );
        std::process::exit(2);
    }
    let rounds: usize = env_num("PALISADE_BENCH_ROUNDS", 3);
    let secs: u64 = env_num("PALISADE_BENCH_SECS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    // The built site, plus a static file as large as the login page.
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("pkg")).expect("site dir");
    for entry in std::fs::read_dir(site.join("pkg")).expect("pkg") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), root.join("pkg").join(entry.file_name())).expect("copy");
        }
    }
    // The console reads its site at startup: one start to learn the login page's size, then
    // the measured one, with a static file of that size beside the CSS.
    let start = |data: &str| {
        let mut config = server::config::Config::for_data_dir(&dir.path().join(data));
        config.addr = "127.0.0.1:0".parse().expect("addr");
        config.site_root = Some(root.clone());
        config.max_connections_per_ip = 1024;
        runtime.block_on(async {
            let app = server::startup::Application::build(config)
                .await
                .expect("console");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        })
    };
    let first = start("sizing");
    let login = runtime.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{first}/login"))
            .await
            .expect("login")
            .bytes()
            .await
            .expect("body")
    });
    std::fs::write(
        root.join("pkg/same-size-as-login.html"),
        vec![b'x'; login.len()],
    )
    .expect("static page");
    let port = start("data");
    let paths = [
        "/favicon.svg",
        "/pkg/palisade.css",
        "/login",
        "/pkg/same-size-as-login.html",
    ];
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    for round in 0..rounds {
        for (i, path) in paths.iter().enumerate() {
            let run = wrk(port, path, &[], 4, secs);
            assert_eq!(run.refused, 0, "{path}: {run:?}");
            eprintln!("round {}: {path} {:.0} requests/s", round + 1, run.rps);
            rps[i].push(run.rps);
        }
    }
    let m: Vec<f64> = rps.into_iter().map(median).collect();
    println!("console pages, {rounds} rounds of {secs} s, 4 connections, medians:");
    for (path, r) in paths.iter().zip(&m) {
        println!("  {path:<32} {r:>10.0} requests/s");
    }
    println!(
        "  CSS / favicon            {:.2}x (goal >= 0.5x)",
        m[1] / m[0]
    );
    println!(
        "  SSR /login / static file of its size ({} B)   {:.2}x (goal >= 0.5x)",
        login.len(),
        m[2] / m[3]
    );
}
