//! The `lblab` binary: everything lives in the library; see `lblab --help`.

fn main() -> std::process::ExitCode {
    lblab::cli::main()
}
