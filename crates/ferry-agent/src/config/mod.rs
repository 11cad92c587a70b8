//! ngrok.yml version "2": loading several files in order, merging them (later files win key by
//! key, `tunnels` merge by name), and turning tunnel definitions into
//! [`TunnelSpec`](crate::TunnelSpec)s. Every error names the file, and where the YAML gives
//! one, the line and column.

mod duration;
mod paths;
mod raw;
mod spec;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use paths::{default_paths, ferry_default_path};
pub use raw::{RawConfig, RawTunnel, Scalar, ScalarOut};
pub use spec::tunnel_spec;

use raw::{AGENT_KEYS, TUNNEL_KEYS, UNSUPPORTED_AGENT_KEYS};

/// Where a definition came from, for messages.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The file as it was named (by `--config` or the default paths), not made absolute.
    pub file: PathBuf,
    /// 1-based, where the tunnel's definition begins (its first key, not its name).
    pub line: u64,
    /// 1-based, in characters.
    pub column: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A tunnel as a file defines it. Its keys are checked only when the tunnel is started
/// ([`tunnel_spec`]), so a broken definition of a tunnel not started does not stop the agent;
/// `origin` lets that later message point into the file.
#[derive(Clone, Debug)]
pub struct TunnelDef {
    /// The definition as written, from the last file that defines this name.
    pub raw: RawTunnel,
    /// Where that definition is.
    pub origin: Origin,
}

/// The merged configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The files read, in order; a message about a merged value names them all, since the file
    /// a value came from is not kept.
    pub files: Vec<PathBuf>,
    /// Agent-level keys after merging (`tunnels` is moved to [`Config::tunnels`]).
    pub agent: RawConfig,
    /// Tunnels by name. A later file's definition replaces an earlier one whole: keys inside a
    /// tunnel do not merge.
    pub tunnels: BTreeMap<String, TunnelDef>,
    /// One line per agent-level key ngrok knows and Ferry ignores, for the CLI to log at start
    /// and `ferry config check` to print. Tunnel keys get theirs from [`tunnel_spec`].
    pub warnings: Vec<String>,
}

/// Why the configuration cannot be used. Every message starts with the file (or, for merged
/// values, the files), since the user's next step is to open it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file cannot be read: it does not exist, is not readable, or is not UTF-8.
    #[error("{path}: {source}")]
    Read {
        /// The file as named.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML, a key holds the wrong type, or a key is unknown (then with the
    /// nearest key ngrok knows, for typos).
    #[error("{path}:{line}:{column}: {msg}")]
    Parse {
        /// The file as named.
        path: String,
        /// 1-based; 0 when the YAML library gives no position.
        line: u64,
        /// 1-based; 0 when the YAML library gives no position.
        column: u64,
        /// The library's first line without its own position prefix.
        msg: String,
    },
    /// A key parses but its value is unusable: a `version` other than 2, a duration without a
    /// unit, an `inspect_db_size` that is not a number.
    #[error("{path}: {msg}")]
    Value {
        /// The file, or every file read, comma-separated, when the value was merged.
        path: String,
        /// Starts with the key.
        msg: String,
    },
    /// `ferry start NAME` names a tunnel no file defines: often a typo, or a file left
    /// out of `--config`, so the message lists both the files read and the names found.
    #[error("no tunnel named {name:?} is defined in {files}; defined tunnels: {defined}")]
    UndefinedTunnel {
        /// The name asked for.
        name: String,
        /// The files read, comma-separated, or `(no config file)`.
        files: String,
        /// The names defined, comma-separated, or `(none)`.
        defined: String,
    },
}

/// Loads `paths` in order and merges them.
pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let raw = parse(path, &text)?;
        merge(&mut config, path, raw)?;
        config.files.push(path.clone());
    }
    for key in set_keys(&config.agent, UNSUPPORTED_AGENT_KEYS) {
        config.warnings.push(format!(
            "{key}: ngrok's agent knows this key; Ferry does not act on it yet and ignores it"
        ));
    }
    Ok(config)
}

/// Parses one file, with positions for syntax errors, wrong types and unknown keys.
pub fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(RawConfig::default());
    }
    serde_saphyr::from_str::<RawConfig>(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unknown field `") {
            if let Some(misplaced) = misplaced_tunnel_keys(path, text) {
                return misplaced;
            }
        }
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ConfigError::Parse {
            path: path.display().to_string(),
            line,
            column,
            msg: describe_yaml_error(&msg),
        }
    })
}

/// Tunnel keys written at the top level, as a fragment copied without its `tunnels:` and
/// name lines reads (the site-to-site guide prints one so): every such key, and where they
/// belong. Top-level keys are the lines that start unindented with `key:`.
fn misplaced_tunnel_keys(path: &Path, text: &str) -> Option<ConfigError> {
    let found: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (key, _) = line.split_once(':')?;
            let key = key.trim_end();
            let plain =
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            (plain && TUNNEL_KEYS.contains(&key) && !AGENT_KEYS.contains(&key))
                .then_some((i + 1, key))
        })
        .collect();
    let (first, _) = *found.first()?;
    let keys: Vec<String> = found
        .iter()
        .map(|(line, key)| format!("{key:?} (line {line})"))
        .collect();
    Some(ConfigError::Parse {
        path: path.display().to_string(),
        line: first as u64,
        column: 1,
        msg: format!(
            "tunnel keys at the top level: {}; they belong under tunnels.<name>:, as in \"tunnels:\\n  agent-api:\\n    proto: http\"",
            keys.join(", ")
        ),
    })
}

/// Keeps the first line of the YAML library's message without its own position prefix, and
/// for an unknown key adds the nearest key ngrok knows.
fn describe_yaml_error(full: &str) -> String {
    let first = full.lines().next().unwrap_or(full);
    let mut msg = first.strip_prefix("error: ").unwrap_or(first);
    if msg.starts_with("line ") {
        if let Some(i) = msg.find(": ") {
            msg = &msg[i + 2..];
        }
    }
    if let Some(rest) = msg.split_once("unknown field `").map(|(_, r)| r) {
        let key = rest.split('`').next().unwrap_or(rest);
        let nearest = nearest_key(key);
        return match nearest {
            Some(n) => format!("unknown key {key:?} (did you mean {n:?}?)"),
            None => format!("unknown key {key:?}"),
        };
    }
    msg.to_string()
}

fn nearest_key(key: &str) -> Option<&'static str> {
    ferry_types::nearest(key, AGENT_KEYS.iter().chain(TUNNEL_KEYS).copied())
}

macro_rules! merge_fields {
    ($into:expr, $from:expr, $($f:ident),* $(,)?) => {
        $( if $from.$f.is_some() { $into.$f = $from.$f; } )*
    };
}

fn merge(config: &mut Config, path: &Path, mut raw: RawConfig) -> Result<(), ConfigError> {
    if let Some(v) = &raw.version {
        let text = v.text();
        if text != "2" {
            return Err(ConfigError::Value {
                path: path.display().to_string(),
                msg: format!(
                    "version {text:?} is not supported; this agent reads version \"2\" files"
                ),
            });
        }
    }
    if let Some(tunnels) = raw.tunnels.take() {
        for (name, spanned) in tunnels {
            let origin = Origin {
                file: path.to_path_buf(),
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            };
            config.tunnels.insert(
                name,
                TunnelDef {
                    raw: spanned.value,
                    origin,
                },
            );
        }
    }
    let a = &mut config.agent;
    merge_fields!(
        a,
        raw,
        version,
        authtoken,
        api_key,
        server_addr,
        root_cas,
        connect_timeout,
        connect_interface,
        heartbeat_interval,
        heartbeat_tolerance,
        metadata,
        proxy_url,
        region,
        remote_management,
        web_addr,
        web_allow_hosts,
        inspect_db_size,
        console_ui,
        console_ui_color,
        log,
        log_level,
        log_format,
        crl_noverify,
        dns_resolver_ips,
        update_channel,
        update_check,
        persist_api_tunnels,
        data_connections,
    );
    Ok(())
}

fn set_keys(raw: &RawConfig, list: &[&'static str]) -> Vec<&'static str> {
    let present = |k: &str| match k {
        "connect_interface" => raw.connect_interface.is_some(),
        "proxy_url" => raw.proxy_url.is_some(),
        "region" => raw.region.is_some(),
        "remote_management" => raw.remote_management.is_some(),
        "console_ui_color" => raw.console_ui_color.is_some(),
        "crl_noverify" => raw.crl_noverify.is_some(),
        "update_channel" => raw.update_channel.is_some(),
        "update_check" => raw.update_check.is_some(),
        _ => false,
    };
    list.iter().copied().filter(|k| present(k)).collect()
}

impl Config {
    /// The path of the last file read, for messages about merged values.
    fn source(&self) -> String {
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The definitions of `names`, in order; an unknown name is an error listing the known ones.
    pub fn select(&self, names: &[String]) -> Result<Vec<(String, TunnelDef)>, ConfigError> {
        names
            .iter()
            .map(|n| match self.tunnels.get(n) {
                Some(d) => Ok((n.clone(), d.clone())),
                None => Err(ConfigError::UndefinedTunnel {
                    name: n.clone(),
                    files: if self.files.is_empty() {
                        "(no config file)".into()
                    } else {
                        self.source()
                    },
                    defined: if self.tunnels.is_empty() {
                        "(none)".into()
                    } else {
                        self.tunnels.keys().cloned().collect::<Vec<_>>().join(", ")
                    },
                }),
            })
            .collect()
    }

    /// Reads the duration key `key` (`connect_timeout`, `heartbeat_*`) as ngrok writes it: Go
    /// syntax (`10s`, `1m30s`, `500ms`) or a bare number of seconds. `None` when unset, so the
    /// caller's default applies.
    pub fn duration(&self, key: &str, v: &Option<Scalar>) -> Result<Option<Duration>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) => duration::parse(&s.text())
                .map(Some)
                .map_err(|msg| ConfigError::Value {
                    path: self.source(),
                    msg: format!("{key}: {msg}"),
                }),
        }
    }

    /// `dns_resolver_ips` as addresses (port 53 unless given); an entry that is no address
    /// is an error naming it.
    pub fn dns_resolvers(&self) -> Result<Vec<std::net::SocketAddr>, ConfigError> {
        let entries = self.agent.dns_resolver_ips.as_deref().unwrap_or_default();
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                crate::resolve::parse_resolver(e).ok_or_else(|| ConfigError::Value {
                    path: self.source(),
                    msg: format!(
                        "dns_resolver_ips[{i}]: {e:?} is not an IP address (or address:port)"
                    ),
                })
            })
            .collect()
    }

    /// `web_addr`: `None` when set to `false` (the API is off).
    pub fn web_addr(&self) -> Option<String> {
        match &self.agent.web_addr {
            Some(Scalar::Bool(false)) => None,
            Some(s) => Some(s.text()),
            None => Some("127.0.0.1:4040".into()),
        }
    }

    /// `data_connections`: how many the agent keeps idle at the edge while it carries traffic.
    pub fn data_connections(&self) -> Result<usize, ConfigError> {
        match &self.agent.data_connections {
            None => Ok(crate::DATA_CONNECTIONS),
            Some(Scalar::Int(n)) if (0..=crate::MAX_DATA_CONNECTIONS as i64).contains(n) => {
                Ok(*n as usize)
            }
            Some(other) => Err(ConfigError::Value {
                path: self.source(),
                msg: format!(
                    "data_connections: {:?} is not a whole number from 0 to {}",
                    other.text(),
                    crate::MAX_DATA_CONNECTIONS
                ),
            }),
        }
    }

    /// `inspect_db_size` in bytes: 0 means the 50 MB default, negative turns capture off.
    pub fn inspect_db_size(&self) -> Result<Option<u64>, ConfigError> {
        match &self.agent.inspect_db_size {
            None => Ok(Some(50 * 1024 * 1024)),
            Some(Scalar::Int(0)) => Ok(Some(50 * 1024 * 1024)),
            Some(Scalar::Int(n)) if *n < 0 => Ok(None),
            Some(Scalar::Int(n)) => Ok(Some(*n as u64)),
            Some(other) => Err(ConfigError::Value {
                path: self.source(),
                msg: format!(
                    "inspect_db_size: {:?} is not a number of bytes",
                    other.text()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
