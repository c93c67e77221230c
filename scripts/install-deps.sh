#!/usr/bin/env bash
# Installs what building and testing Palisade needs, idempotently: the wasm target, clippy and
# rustfmt, the wasm-bindgen CLI matching Cargo.lock, cargo-audit, Debian's Chromium and nginx, and the npm
# packages (Playwright and binaryen's wasm-opt). Each step checks first and does nothing when already
# satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# make lint: a toolchain installed with rustup's minimal profile has neither.
for c in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$c"; then
    echo "installing the $c component"
    rustup component add "$c"
  fi
done

want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found '${have:-none}'; about 2 minutes)"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# cargo-audit for `make audit` (scripts/audit-deps.sh).
want_audit=0.22.2
have_audit=$(cargo audit --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_audit" != "$want_audit" ]; then
  echo "installing cargo-audit $want_audit (found '${have_audit:-none}'; about 4 minutes)"
  cargo install cargo-audit --version "$want_audit" --locked --force
fi

# Debian's Chromium for the browser suite; the openssl CLI, which the tests compare pins and
# CSRs against; psql for the PostgreSQL browser run.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# psql creates the fresh databases the PostgreSQL browser run uses (make e2e-postgres).
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# nginx with auth_request, which gate/tests/decision.rs runs in front of the gate in decision
# mode (Debian's nginx-light has the module).
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y "${missing[@]}" || { as_root apt-get update && as_root apt-get install -y "${missing[@]}"; }
  # The nginx package may start a system nginx on port 80; the tests run their own.
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then as_root service nginx stop >/dev/null 2>&1 || true; fi
fi

if [ ! -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  echo "installing npm packages in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
fi

# A third-party OAuth client (Authlib) and JOSE library (PyJWT) for the gate's token endpoint
# tests (gate/tests/token.rs), in a virtualenv of their own under target/.
venv=target/oauth-venv
want_py='authlib==1.9.10 pyjwt[crypto]==2.15.1 requests==2.34.2'
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$want_py" ]; then
  echo "creating the OAuth test virtualenv in $venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want_py
  echo "$want_py" > "$venv/.installed"
fi

# Schemathesis, which fuzzes the REST API against its own OpenAPI document
# (server/tests/http/openapi.rs), in a virtualenv of its own under target/.
venv=target/schemathesis-venv
want_st='schemathesis==4.32.5'
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$want_st" ]; then
  echo "creating the schemathesis virtualenv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want_st"
  echo "$want_st" > "$venv/.installed"
fi
