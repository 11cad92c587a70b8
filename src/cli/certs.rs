use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use ferry_pki::{generate_set, inspect_file, FileKind, GenerateOptions, PkiError};

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
    /// Say what each file is and what is wrong with it; exit 1 if anything is.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: CertsCommand) -> anyhow::Result<()> {
    match cmd {
        CertsCommand::Check { files } => check(&files),
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
        .context("ferry certs generate"),
    }
}

/// A failed check: the report is printed already, the exit code is 1.
#[derive(Debug, thiserror::Error)]
#[error("{0} of {1} files have problems (see above)")]
struct CheckFailed(usize, usize);

fn check(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut bad = 0;
    for path in files {
        let shown = path.display();
        match inspect_file(path) {
            Err(e) => {
                bad += 1;
                println!("{shown}: {}: {e}", e.code());
            }
            Ok(report) => {
                let (what, mut problems) = match &report.kind {
                    FileKind::Certificate { count, is_ca, subject } => (
                        format!(
                            "{} ({} in the file), subject {subject}",
                            if *is_ca { "a CA certificate" } else { "a leaf certificate" },
                            count
                        ),
                        Vec::new(),
                    ),
                    FileKind::PrivateKey { encrypted: true } => (
                        "an encrypted private key".to_string(),
                        vec![format!(
                            "it is encrypted with a pass phrase, which the agent cannot type; decrypt it once: openssl pkey -in {shown} -out {shown}.plain"
                        )],
                    ),
                    FileKind::PrivateKey { encrypted: false } => ("a private key".to_string(), Vec::new()),
                    FileKind::Csr => (
                        "a certificate signing request".to_string(),
                        vec!["a CSR is not a certificate; it is only an input to signing, and no tunnel key takes it".to_string()],
                    ),
                    FileKind::Unknown { what } => (what.clone(), vec!["this is not a certificate or a key".to_string()]),
                    _ => ("an unrecognised file".to_string(), Vec::new()),
                };
                problems.extend(report.defects.iter().map(|d| d.to_string()));
                if problems.is_empty() {
                    println!("{shown}: {what}: OK");
                } else {
                    bad += 1;
                    println!("{shown}: {what}:");
                    for p in problems {
                        println!("  - {p}");
                    }
                }
            }
        }
    }
    if bad > 0 {
        return Err(CheckFailed(bad, files.len()).into());
    }
    Ok(())
}
