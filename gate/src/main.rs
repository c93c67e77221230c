//! `palisade-gate`: the gate binary. Everything lives in the `gate` library; see `cli`.

fn main() -> std::process::ExitCode {
    gate::cli::main()
}
