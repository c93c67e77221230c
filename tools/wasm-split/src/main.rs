//! `wasm-split INPUT OUT_DIR MAIN_OUT`: cuts the hydrate wasm (linked with `--emit-relocs`) into
//! the main module (written to MAIN_OUT, for wasm-bindgen), one module per lazy route and the
//! chunks several routes share (in OUT_DIR), with the file names Leptos expects: the chunk
//! loader `__wasm_split.______________________.js`, which imports `initSync` from
//! `./palisade.js`, and `__wasm_split_manifest.json`, the chunks each split needs, from which
//! the server preloads what the page it renders will load.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use wasm_split_cli_support::{transform, Options};

/// The loader's name as Leptos's `HydrationScripts` imports it when files are not hashed.
const LOADER: &str = "./__wasm_split.______________________.js";
/// The manifest `HydrationScripts` reads from the site's pkg directory.
const MANIFEST: &str = "__wasm_split_manifest.json";
/// The JS glue wasm-bindgen writes for the main module (`--out-name palisade`).
const MAIN_JS: &str = "./palisade.js";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, main_out] = args.as_slice() else {
        eprintln!("usage: wasm-split INPUT.wasm OUT_DIR MAIN_OUT.wasm");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(out_dir), Path::new(main_out)) {
        Ok(count) => {
            eprintln!("wasm-split: main module and {count} split modules");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("wasm-split: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The loader the library writes repeats one five-line fetch function per module (216 of them:
/// 24 KB of the sign-in page's first load after minifying); they differ only in the file name,
/// so each becomes a call of one function with that name. The text is matched exactly: if a
/// new library version writes it differently, the build fails here rather than ship a loader
/// this step did not understand.
fn compact_loader(path: &Path) -> Result<(), String> {
    const HEAD: &str = "makeLoad(() => {\n    const src = fetch(new URL(\"";
    const TAIL: &str = "\", import.meta.url));\n    src.catch(() => {});\n    return async (imports) => (WebAssembly.instantiateStreaming(src, imports));\n}\n";
    const HELPER: &str = "function fetchModule(file) {\n    return () => {\n        const src = fetch(new URL(file, import.meta.url));\n        src.catch(() => {});\n        return async (imports) => (WebAssembly.instantiateStreaming(src, imports));\n    };\n}\n";
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let loads = text.matches("makeLoad(").count() - 1; // one is the definition
    let mut out = String::with_capacity(text.len() / 3);
    let mut rest = text.as_str();
    let mut compacted = 0;
    while let Some(at) = rest.find(HEAD) {
        out.push_str(&rest[..at]);
        let after = &rest[at + HEAD.len()..];
        let file_end = after.find(TAIL).ok_or("the loader's fetch function has an unknown shape")?;
        let file = &after[..file_end];
        if !file.starts_with("./") || !file.ends_with(".wasm") || file.contains(['"', '\\']) {
            return Err(format!("the loader fetches {file:?}, not a module file"));
        }
        out.push_str(&format!("makeLoad(fetchModule(\"{file}\")"));
        rest = &after[file_end + TAIL.len()..];
        compacted += 1;
    }
    out.push_str(rest);
    if compacted != loads || loads == 0 {
        return Err(format!(
            "the loader has {loads} module loads, {compacted} of the known shape: update compact_loader for this wasm_split_cli_support"
        ));
    }
    let at = out.find("function makeLoad(").ok_or("the loader defines no makeLoad")?;
    out.insert_str(at, HELPER);
    std::fs::write(path, out).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// After [`compact_loader`]: the loader still names each shared chunk in a constant of its own
/// (`const __chunk_12 = makeLoad(fetchModule("./chunk_12.wasm"), []);`, 177 of them) and lists
/// the constants each page needs, about 6 KB of every first load once minified. Every chunk
/// line has that one shape (a chunk needs no other chunk), so the constants become one function
/// that makes a chunk's loader on first use and keeps it (`chunk(12)`), and each page's list a
/// list of numbers mapped through it: the same loaders, made and shared the same way. Any other
/// shape, or a chunk named anywhere but in a page's list, fails the build.
fn index_chunks(path: &Path) -> Result<(), String> {
    const HELPER: &str = "const chunkLoads = new Map();\nfunction chunk(n) {\n    let load = chunkLoads.get(n);\n    if (load === undefined) {\n        load = makeLoad(fetchModule(`./chunk_${n}.wasm`), []);\n        chunkLoads.set(n, load);\n    }\n    return load;\n}\n";
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut out = String::with_capacity(text.len());
    let mut chunks = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("const __chunk_") {
            let (n, rest) = rest.split_once(' ').ok_or("a chunk line of unknown shape")?;
            let expected = format!("= makeLoad(fetchModule(\"./chunk_{n}.wasm\"), []);");
            if n.parse::<u32>().is_err() || rest.trim_end() != expected {
                return Err(format!("a chunk line of unknown shape: {line:?}"));
            }
            chunks += 1;
            continue;
        }
        out.push_str(line);
    }
    if chunks == 0 {
        return Err("the loader names no chunk: update index_chunks for this wasm_split_cli_support".into());
    }
    // Each page's list: `[__chunk_12, __chunk_13]` becomes `[12, 13].map(chunk)`.
    let mut indexed = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("[__chunk_") {
        indexed.push_str(&rest[..at]);
        let end = rest[at..].find(']').ok_or("an unterminated chunk list")? + at;
        let numbers = rest[at + 1..end]
            .split(", ")
            .map(|c| {
                c.strip_prefix("__chunk_")
                    .filter(|n| n.parse::<u32>().is_ok())
                    .ok_or(format!("a chunk list of unknown shape: {c:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        indexed.push_str(&format!("[{}].map(chunk)", numbers.join(", ")));
        rest = &rest[end + 1..];
    }
    indexed.push_str(rest);
    if indexed.contains("__chunk_") {
        return Err("a chunk is named outside a page's list: update index_chunks".into());
    }
    let at = indexed.find("function makeLoad(").ok_or("the loader defines no makeLoad")?;
    indexed.insert_str(at, HELPER);
    std::fs::write(path, indexed).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn split(input: &Path, out_dir: &Path, main_out: &Path) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let mut options = Options::new(&wasm);
    options.output_dir = out_dir;
    options.main_out_path = main_out;
    options.link_name = LOADER;
    options.main_module = MAIN_JS;
    options.target.web();
    let result = transform(options).map_err(|e| format!("splitting {}: {e:#}", input.display()))?;
    if result.prefetch_map.is_empty() {
        return Err(format!(
            "{} has no split points: was it linked with --emit-relocs and built with lazy routes?",
            input.display()
        ));
    }
    compact_loader(&out_dir.join(LOADER))?;
    index_chunks(&out_dir.join(LOADER))?;
    // Sorted, so the same wasm gives the same manifest (the build digest covers it).
    let manifest: BTreeMap<_, _> = result.prefetch_map.into_iter().collect();
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    let path = out_dir.join(MANIFEST);
    std::fs::write(&path, json).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(result.split_modules.len())
}
