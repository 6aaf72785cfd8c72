//! The `ambake` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ambake::cli::normalize_args(std::env::args());
    let cli = match ambake::cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ambake::exit::Exit::Usage
            } else {
                ambake::exit::Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    match ambake::run(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ambake::exit::Exit::Failed.into()
        }
    }
}
