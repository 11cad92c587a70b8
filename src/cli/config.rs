use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use ferry_agent::config::{ferry_default_path, tunnel_spec};

use super::{agent, usage};

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the merged configuration and its problems; exit 2 if it has errors.
    Check {
        #[arg(long = "config")]
        config: Vec<PathBuf>,
    },
    /// Write an authtoken into Ferry's default config file (~/.config/ferry/ferry.yml), or the
    /// file named with --config.
    AddAuthtoken {
        token: String,
        #[arg(long = "config")]
        config: Option<PathBuf>,
    },
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { config } => check(&config),
        ConfigCommand::AddAuthtoken { token, config } => add_authtoken(&token, config),
    }
}

fn check(paths: &[PathBuf]) -> anyhow::Result<()> {
    let file = agent::load_files(paths)?;
    if file.files.is_empty() {
        return Err(usage(
            "no config file found: pass --config FILE or create ~/.config/ferry/ferry.yml",
        ));
    }
    for p in &file.files {
        println!("read {}", p.display());
    }
    let mut problems = Vec::new();
    let mut merged = serde_json::Map::new();
    for (name, def) in &file.tunnels {
        match tunnel_spec(name, &def.raw) {
            Ok((_, warnings)) => {
                for w in warnings {
                    println!("warning: {}: {w}", def.origin);
                }
            }
            Err(msg) => problems.push(format!("{}: tunnel {name:?}: {msg}", def.origin)),
        }
        merged.insert(
            name.clone(),
            serde_json::to_value(&def.raw).unwrap_or_default(),
        );
    }
    for w in &file.warnings {
        println!("warning: {w}");
    }
    let agent = serde_json::json!({
        "authtoken": file.agent.authtoken.as_ref().map(|_| "(set)"),
        "server_addr": file.agent.server_addr,
        "root_cas": file.agent.root_cas,
        "web_addr": file.web_addr(),
        "tunnels": merged,
    });
    println!("{}", serde_json::to_string_pretty(&agent)?);
    if problems.is_empty() {
        println!("valid configuration");
        Ok(())
    } else {
        Err(usage(problems.join("\n")))
    }
}

/// Sets `authtoken:` in the file, keeping everything else (comments included) as written.
fn add_authtoken(token: &str, path: Option<PathBuf>) -> anyhow::Result<()> {
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(usage("the authtoken must be one word"));
    }
    let path = path
        .or_else(ferry_default_path)
        .ok_or_else(|| usage("cannot find a home directory; pass --config FILE"))?;
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "version: \"2\"\n".to_string(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let line = format!("authtoken: {token}");
    let mut replaced = false;
    let mut lines: Vec<String> = old
        .lines()
        .map(|l| {
            if l.starts_with("authtoken:") {
                replaced = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        lines.push(line);
    }
    let text = lines.join("\n") + "\n";
    ferry_agent::config::parse(&path, &text).map_err(|e| usage(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    // The file holds a secret.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    println!("Authtoken saved to configuration file: {}", path.display());
    Ok(())
}
