//! `palisade`: the console binary. Everything lives in the `server` library; see `cli`.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
