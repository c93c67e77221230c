#!/usr/bin/env bash
# Builds the console's browser side into target/site/pkg: the hydrate wasm (release profile
# `wasm-release`, linked with its relocations), split at Leptos's lazy routes into a main module
# and one chunk per page (tools/wasm-split, which also writes `__wasm_split_manifest.json` for
# preloads), the JS glue of the main module (wasm-bindgen), every module size-optimised
# (wasm-opt -Oz), the JS and CSS minified (esbuild), and `.br`/`.gz` copies of each. Same file
# names as cargo-leptos `--split`, so `cargo leptos watch --split` and this script serve the
# same site.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
site="target/site"
wasm_opt="end2end/node_modules/.bin/wasm-opt"

# Source paths in the wasm (panic locations) named the build machine's crate registry and
# checkout (`/root/.cargo/registry/src/index.crates.io-…/tachys-0.2.19/src/…`): 5 KB of the
# main module, and where the console was built. They are shortened to the crate's own path
# (`tachys-0.2.19/src/…`, `app/src/…`). The standard library's (`/rustc/<commit>/library/…`)
# come precompiled and stay. The flags go beside those of .cargo/config.toml (cargo joins
# `--config` arrays with the file's; `cargo build -v` shows both).
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
remap=()
for index in "$registry"/*/; do
  remap+=("\"--remap-path-prefix=${index%/}/=\"")
done
remap+=("\"--remap-path-prefix=$PWD/=\"")
flags=$(IFS=,; echo "${remap[*]}")
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release \
  --config "target.wasm32-unknown-unknown.rustflags=[$flags]"
cargo build --release --locked --quiet --manifest-path tools/wasm-split/Cargo.toml \
  --target-dir "$target_dir/tools"
rm -rf "$site/pkg.new" && mkdir -p "$site/pkg.new"
main="$target_dir/wasm32-unknown-unknown/wasm-release/frontend_main.wasm"
"$target_dir/tools/release/wasm-split" \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm" "$site/pkg.new" "$main"
# --keep-lld-exports: the chunks import the table, memory and stack pointer the main module
# exports.
wasm-bindgen --target web --keep-lld-exports --no-typescript --out-name palisade \
  --out-dir "$site/pkg.new" "$main"
# Two at a time (each run of the npm build of binaryen spends about a second starting); binaryen
# warns once per module about the name subsections it does not know, which it drops.
export wasm_opt
find "$site/pkg.new" -maxdepth 1 -name '*.wasm' -print0 |
  xargs -0 -P 2 -I{} bash -c '{ "$wasm_opt" -Oz --enable-bulk-memory --enable-reference-types \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals "$1" -o "$1" 2>&1 1>&3 |
    { grep -v "^warning: unknown name subsection" >&2 || true; }; } 3>&1' _ {}
# The JS glue, the chunk loader and the snippets, minified as ES modules (imports, exports and
# `import.meta.url` kept): about half their size before compression.
find "$site/pkg.new" -type f -name '*.js' -print0 |
while IFS= read -r -d '' f; do
  # (wasm-bindgen lists the chunk loader once per import, under the same key: the same module
  # each time, so esbuild's duplicate-key warning is noise.)
  end2end/node_modules/.bin/esbuild --minify --format=esm --log-level=warning \
    --log-override:duplicate-object-key=silent "$f" --outfile="$f" --allow-overwrite
done
end2end/node_modules/.bin/esbuild --minify --log-level=warning style/main.css \
  --outfile="$site/pkg.new/palisade.css"
# Precompressed copies, served with Content-Encoding to browsers that accept them (the server
# picks `.br`, then `.gz`): gzip -9, and brotli at quality 11 through Node's zlib.
find "$site/pkg.new" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' \) -print0 |
while IFS= read -r -d '' f; do
  gzip -9 -n -k -f "$f"
  node -e 'const z=require("zlib"),fs=require("fs"),f=process.argv[1];
    fs.writeFileSync(f+".br", z.brotliCompressSync(fs.readFileSync(f),
      {params:{[z.constants.BROTLI_PARAM_QUALITY]:11,[z.constants.BROTLI_PARAM_SIZE_HINT]:fs.statSync(f).size}}));' "$f"
done
rm -rf "$site/pkg" && mv "$site/pkg.new" "$site/pkg"
total() { find "$site/pkg" -maxdepth 1 -name "*.wasm$1" -printf '%s\n' | awk '{s+=$1} END {print s}'; }
chunks=$(find "$site/pkg" -maxdepth 1 -name '*.wasm' ! -name 'palisade_bg.wasm' | wc -l)
echo "site built: main wasm $(stat -c %s "$site/pkg/palisade_bg.wasm") bytes raw," \
  "$(stat -c %s "$site/pkg/palisade_bg.wasm.gz") gzip, $(stat -c %s "$site/pkg/palisade_bg.wasm.br") brotli;" \
  "$chunks chunks; all wasm $(total '') raw, $(total .gz) gzip"
