#!/usr/bin/env bash
# Builds the console's browser side into target/site/pkg: the hydrate wasm (release profile
# `wasm-release`), its JS glue (wasm-bindgen), the size-optimised wasm (wasm-opt -Oz) and the CSS.
# Same layout as cargo-leptos, so `cargo leptos watch` and this script serve the same site.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
site="target/site"
wasm_opt="end2end/node_modules/.bin/wasm-opt"

cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$site/pkg.new" && mkdir -p "$site/pkg.new"
wasm-bindgen --target web --no-typescript --out-name palisade --out-dir "$site/pkg.new" \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
"$wasm_opt" -Oz --enable-bulk-memory --enable-reference-types --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals "$site/pkg.new/palisade_bg.wasm" -o "$site/pkg.new/palisade_bg.wasm"
cp style/main.css "$site/pkg.new/palisade.css"
# Precompressed copies, served with Content-Encoding to browsers that accept them (the server's
# ServeDir picks `.br`, then `.gz`): gzip -9, and brotli at quality 11 through Node's zlib.
find "$site/pkg.new" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' \) -print0 |
while IFS= read -r -d '' f; do
  gzip -9 -n -k -f "$f"
  node -e 'const z=require("zlib"),fs=require("fs"),f=process.argv[1];
    fs.writeFileSync(f+".br", z.brotliCompressSync(fs.readFileSync(f),
      {params:{[z.constants.BROTLI_PARAM_QUALITY]:11,[z.constants.BROTLI_PARAM_SIZE_HINT]:fs.statSync(f).size}}));' "$f"
done
rm -rf "$site/pkg" && mv "$site/pkg.new" "$site/pkg"
raw=$(stat -c %s "$site/pkg/palisade_bg.wasm")
gz=$(stat -c %s "$site/pkg/palisade_bg.wasm.gz")
br=$(stat -c %s "$site/pkg/palisade_bg.wasm.br")
echo "site built: wasm ${raw} bytes raw, ${gz} bytes gzip, ${br} bytes brotli"
