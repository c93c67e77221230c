#!/usr/bin/env bash
# Fails if a server-only crate is in the wasm (hydrate) dependency tree: they would bloat the
# download at best and leak server code into the browser at worst (CONVENTIONS.md, "Keep the
# wasm small").
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree --locked -p frontend --target wasm32-unknown-unknown -e normal --prefix none --format '{p}' \
  | awk '{print $1}' | sort -u)
[ -n "$tree" ] || { echo "FAIL: cargo tree printed nothing for frontend" >&2; exit 1; }
grep -qx leptos <<<"$tree" || { echo "FAIL: leptos missing from the wasm tree: is the check looking at the right crate?" >&2; exit 1; }
bad=0
for crate in sqlx sqlx-core axum hyper tokio mio webauthn-rs webauthn-rs-core rcgen jsonwebtoken ring aws-lc-rs \
             openssl domain store server leptos_axum argon2; do
  if grep -qx "$crate" <<<"$tree"; then
    echo "FAIL: server-only crate '$crate' is in the wasm dependency tree" >&2
    cargo tree --locked -p frontend --target wasm32-unknown-unknown -e normal -i "$crate" >&2 || true
    bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
echo "ok: no server-only crate among the $(wc -l <<<"$tree") crates of the wasm dependency tree"
