//! The `moeid` binary: command-line glue over the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
