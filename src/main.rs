//! The `ferry` command: the edge server, the agent verbs ngrok users know (`http`, `tls`,
//! `tcp`), and certificate tools. This is the only place that uses `anyhow`; the crates
//! below return typed errors.

mod alloc;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    alloc::tune();
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(msg) = cli::dash_lookalike(&raw) {
        eprintln!("error: {msg}");
        return ExitCode::from(2);
    }
    let args = cli::Cli::parse_from(raw);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.spawn(alloc::trim_periodically());
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = cli::exit_code(&e);
            eprintln!("error: {}", cli::one_line(&e));
            ExitCode::from(code)
        }
    }
}
