# Palisade: `make run` builds and starts the console; `make test` runs every test.
# Both install what they need first (scripts/install-deps.sh), idempotently.
SHELL := /bin/bash
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
TARGET := $(abspath $(CARGO_TARGET_DIR))
SITE := $(CURDIR)/target/site

.PHONY: run test deps site release lint clippy fmt-check audit rust-test wasm-deps gate-deps e2e e2e-postgres bench-push bench-gate bench-pages bench-audit

run: release
	$(TARGET)/release/palisade serve

deps:
	@scripts/install-deps.sh

# The browser side: hydrate wasm + JS glue + CSS in target/site/pkg.
site: deps
	@scripts/build-site.sh
	@scripts/check-size.sh

release: site
	cargo build --locked --release -p server -p gate

test: deps site lint audit rust-test wasm-deps gate-deps e2e e2e-postgres

# Lints first: cheap, and a warning fails the build here rather than in review.
lint: clippy fmt-check

# Every target (tests, benches) of the server-side crates, with `app` built for the server
# (`ssr`, through `server`), then the browser side as it really builds: `frontend` and `app`
# with `hydrate` for wasm32. `frontend` stays out of the first run, where it would unify
# `hydrate` and `ssr` in one build of `app`.
clippy:
	cargo clippy --locked --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

# Cargo.lock against the RustSec advisory database (each ignored advisory has its reason in
# .cargo/audit.toml).
audit:
	@scripts/audit-deps.sh

rust-test:
	cargo test --locked -p policy -p jose -p listener -p domain -p store -p app -p server -p gate

# The policy crate is shared with the browser: it must keep building for wasm32.
wasm-deps:
	@scripts/check-wasm-deps.sh
	cargo build --locked -p policy --target wasm32-unknown-unknown

# The gate must never depend on domain, store or app.
gate-deps:
	@scripts/check-gate-deps.sh

# Playwright in Debian's Chromium against the debug binary the Rust tests built.
e2e:
	cargo build --locked -p server -p gate
	cd end2end && PALISADE_BIN=$(TARGET)/debug/palisade PALISADE_GATE_BIN=$(TARGET)/debug/palisade-gate PALISADE_SITE_ROOT=$(SITE) npx playwright test

# The same browser suite with every console on a fresh PostgreSQL database (local server).
PALISADE_E2E_POSTGRES ?= postgres://postgres@127.0.0.1:5432
e2e-postgres:
	cargo build --locked -p server -p gate
	cd end2end && PALISADE_E2E_POSTGRES=$(PALISADE_E2E_POSTGRES) PALISADE_BIN=$(TARGET)/debug/palisade PALISADE_GATE_BIN=$(TARGET)/debug/palisade-gate PALISADE_SITE_ROOT=$(SITE) npx playwright test

# Push-to-applied latency for ten real gates (opt-in benchmark, not part of `make test`).
bench-push:
	cargo build --locked -p server -p gate
	cd end2end && PALISADE_BENCH=1 PALISADE_BIN=$(TARGET)/debug/palisade PALISADE_GATE_BIN=$(TARGET)/debug/palisade-gate PALISADE_SITE_ROOT=$(SITE) npx playwright test tests/push-latency.spec.ts

# The gate against nginx on loopback: throughput ratios and limiter accuracy; JWT verification
# against `openssl speed`; Redis-backed decisions against `redis-benchmark` (opt-in benchmarks,
# not part of `make test`; a release build and about 4 minutes).
bench-gate:
	@scripts/install-bench-deps.sh
	PATH="$$PATH:/usr/sbin" cargo bench --locked -p gate --bench proxy
	cargo bench --locked -p gate --bench jwt_verify
	cargo bench --locked -p gate --bench redis_limits

fmt-check:
	cargo fmt --all --check

# Static assets next to server-rendered pages, requests per second with wrk (opt-in benchmark,
# not part of `make test`): the CSS against the favicon, /login against a static file of its size.
bench-pages: site
	@scripts/install-bench-deps.sh
	cargo bench --locked -p server --bench pages

# The audit explorer over 1,000,000 generated events: p95 of each filter beside a static route
# (opt-in benchmark, not part of `make test`).
bench-audit:
	cargo bench --locked -p server --bench audit_search
