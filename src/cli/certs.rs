use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use ferry_pki::{generate_set, GenerateOptions, PkiError};

use super::usage;

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Write a CA, a server and a client certificate with keys, as the guides name them.
    Generate {
        /// The server certificate's name (repeatable); wildcards such as '*.customer1.example.com'.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// The folder to write into (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// The client certificate's common name.
        #[arg(long, default_value = "client")]
        client_name: String,
        /// Validity of the leaf certificates in days (at most 397).
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
}

pub fn run(cmd: CertsCommand) -> anyhow::Result<()> {
    match cmd {
        CertsCommand::Generate {
            domains,
            out,
            client_name,
            days,
        } => {
            let opts = GenerateOptions {
                domains,
                client_name,
                valid_days: days,
            };
            let set = generate_set(&opts, &out).map_err(|e| match e {
                PkiError::Io { .. } => anyhow::Error::new(e).context("writing certificates"),
                other => usage(format!("{}: {other}", other.code())),
            })?;
            for f in &set.files {
                println!("{}", f.display());
            }
            Ok::<(), anyhow::Error>(())
        }
    }
    .context("ferry certs generate")
}
