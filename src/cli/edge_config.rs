//! `ferry edge --config FILE`: the edge's flags as YAML keys (`api_addr: 127.0.0.1:0`,
//! `region: [us, eu]`), and `ferry edge config check`, which prints the merged result.
//!
//! The keys are not written down anywhere: they are read from clap's definition of
//! [`EdgeArgs`], each flag's long name with `_` for `-`, so a flag added later has its key at
//! once. Each value goes through the flag's own value parser, so a bad address is refused
//! with the file's line and column rather than at start-up without one. Flags (and their
//! environment variables) win over the file, the file over defaults: the merged arguments
//! are the file's values for the flags the command line left alone, then the command line's,
//! parsed once more by clap into the same `EdgeArgs` the command line alone would give.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::edge::EdgeArgs;
use super::usage;

/// The edge's arguments after merging, with the matches they came from (for `config check`,
/// which prints each key's value as clap holds it).
pub struct Merged {
    pub args: EdgeArgs,
    pub matches: ArgMatches,
    /// The file's `log_level` (ferry's own `--log-level`, which is not an edge flag), unless
    /// the command line or `FERRY_LOG` set one.
    pub log_level: Option<String>,
    /// Whether the command line or `FERRY_LOG` set the log level: then the file's never
    /// applies, at start or at a reload.
    pub log_level_from_flags: bool,
}

/// The key for `ferry --log-level`: the one setting a SIGHUP changes without a restart.
pub const LOG_LEVEL: &str = "log_level";

/// Flags that are not settings: they get no key.
const NOT_KEYS: [&str; 3] = ["help", "version", "config"];

/// The edge's command as clap defines it, subcommands included.
fn edge_command() -> Command {
    EdgeArgs::augment_args(Command::new("edge")).no_binary_name(true)
}

/// Every flag that has a key, with its key.
fn keyed_args(cmd: &Command) -> Vec<(String, Arg)> {
    cmd.get_arguments()
        .filter(|a| !NOT_KEYS.contains(&a.get_id().as_str()))
        .filter_map(|a| Some((a.get_long()?.replace('-', "_"), a.clone())))
        .collect()
}

/// The edge's arguments with the file named by `--config`, if any, merged in. `cli` is what
/// the command line parsed into; its subcommand is kept as it was.
pub fn merge(mut cli: EdgeArgs) -> anyhow::Result<Merged> {
    let command_line = edge_matches()?;
    let log_level_from_flags = matches!(
        command_line.value_source(LOG_LEVEL),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    let Some(path) = cli.config.clone() else {
        return Ok(Merged {
            args: cli,
            matches: command_line,
            log_level: None,
            log_level_from_flags,
        });
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let file = parse(&path, &text)?;
    let cmd = edge_command();
    let keyed = keyed_args(&cmd);
    let mut argv: Vec<OsString> = Vec::new();
    let mut log_level = None;
    for entry in &file {
        let key = entry.key.value.as_str();
        if key == LOG_LEVEL {
            let level = log_level_of(&path, entry)?;
            log_level = (!log_level_from_flags).then_some(level);
            continue;
        }
        let Some((_, arg)) = keyed.iter().find(|(k, _)| k == key) else {
            let at = Position::of(&path, &entry.key);
            return Err(usage(format!("{at}: {}", unknown_key(key, &keyed))));
        };
        let values = file_values(&path, &cmd, key, arg, &entry.value)?;
        let from_flags = matches!(
            command_line.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if !from_flags {
            argv.extend(values);
        }
    }
    argv.extend(command_line_args(&cmd, &command_line));
    let matches = cmd
        .try_get_matches_from(&argv)
        .map_err(|e| usage(format!("{}: {}", path.display(), clap_message(&e))))?;
    let mut args = EdgeArgs::from_arg_matches(&matches)
        .map_err(|e| usage(format!("{}: {}", path.display(), clap_message(&e))))?;
    args.action = cli.action.take();
    Ok(Merged {
        args,
        matches,
        log_level,
        log_level_from_flags,
    })
}

/// The `log_level` of the file at `path` now, checked as at start (for SIGHUP): `None` when
/// the file has none.
pub fn reread_log_level(path: &Path) -> anyhow::Result<Option<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    parse(path, &text)?
        .iter()
        .find(|e| e.key.value == LOG_LEVEL)
        .map(|e| log_level_of(path, e))
        .transpose()
}

/// A `log_level` entry's value: one of ngrok's levels or a tracing filter, as `--log-level`.
fn log_level_of(path: &Path, entry: &Entry) -> anyhow::Result<String> {
    match entry.value.value.scalar() {
        Some(level) if super::valid_level(&level) => Ok(level),
        _ => Err(usage(format!(
            "{}: {LOG_LEVEL}: expected a level (crit, error, warn, info, debug, trace) or a filter such as info,ferry_edge=debug, found {}",
            Position::of(path, &entry.value),
            entry.value.value
        ))),
    }
}

/// The edge subcommand's matches from this process's own command line (already parsed once
/// into [`EdgeArgs`], so this parse succeeds): they say which flags came from the command
/// line or the environment, which the typed arguments cannot.
fn edge_matches() -> anyhow::Result<ArgMatches> {
    let all = super::Cli::command()
        .try_get_matches_from(std::env::args_os())
        .map_err(|e| usage(clap_message(&e)))?;
    all.subcommand_matches("edge")
        .cloned()
        .ok_or_else(|| usage("ferry edge: no edge arguments"))
}

/// The flags the command line (not the environment, which clap reads again, nor defaults)
/// gave at the edge's own level, written back as arguments.
fn command_line_args(cmd: &Command, matches: &ArgMatches) -> Vec<OsString> {
    let mut argv = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Some(ValueSource::CommandLine)) =
            (arg.get_long(), matches.value_source(id))
        else {
            continue;
        };
        let Some(raw) = matches.get_raw(id) else {
            continue;
        };
        for value in raw {
            if is_switch(arg) {
                if value == "true" {
                    argv.push(format!("--{long}").into());
                }
            } else {
                argv.push(long_with(long, value));
            }
        }
    }
    argv
}

/// `--long=value`, keeping a value that is not UTF-8 as it was.
fn long_with(long: &str, value: &std::ffi::OsStr) -> OsString {
    let mut s = OsString::from(format!("--{long}="));
    s.push(value);
    s
}

/// A flag without a value (`--dev`): its key takes `true` or `false`.
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
}

/// A flag that may be given several times (`--region`): its key takes one value or a list.
fn is_repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// The arguments a key's value stands for, each checked by the flag's own value parser.
fn file_values(
    path: &Path,
    cmd: &Command,
    key: &str,
    arg: &Arg,
    value: &Spanned<FileValue>,
) -> anyhow::Result<Vec<OsString>> {
    let long = arg.get_long().unwrap_or(key);
    let wrong = |at: &Spanned<FileValue>, what: &str| {
        usage(format!(
            "{}: {key}: expected {what}, found {}",
            Position::of(path, at),
            at.value
        ))
    };
    if is_switch(arg) {
        return match value.value {
            FileValue::Bool(true) => Ok(vec![format!("--{long}").into()]),
            FileValue::Bool(false) => Ok(Vec::new()),
            _ => Err(wrong(value, "true or false")),
        };
    }
    let items: Vec<&Spanned<FileValue>> = match &value.value {
        FileValue::List(items) if is_repeatable(arg) => items.iter().collect(),
        FileValue::List(_) => return Err(wrong(value, "one value")),
        _ => vec![value],
    };
    let mut argv = Vec::new();
    for item in items {
        let Some(text) = item.value.scalar() else {
            let what = if is_repeatable(arg) {
                "a value or a list of values"
            } else {
                "a value"
            };
            return Err(wrong(item, what));
        };
        let one = long_with(long, std::ffi::OsStr::new(&text));
        if let Err(e) = cmd.clone().try_get_matches_from([&one]) {
            return Err(usage(format!(
                "{}: {key}: {}",
                Position::of(path, item),
                clap_message(&e)
            )));
        }
        argv.push(one);
    }
    Ok(argv)
}

/// clap's message on one line, without its `error: ` prefix and usage hints.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unknown_key(key: &str, keyed: &[(String, Arg)]) -> String {
    let nearest = ferry_types::nearest(key, keyed.iter().map(|(k, _)| k.as_str()));
    match nearest {
        Some(k) => format!("unknown key {key:?} (did you mean {k:?}?)"),
        None => format!(
            "unknown key {key:?}; the keys are the flags of `ferry edge --help` with _ for -"
        ),
    }
}

/// `FILE:LINE:COL`, as editors and the agent's ngrok.yml messages write it.
struct Position<'a> {
    path: &'a Path,
    line: u64,
    column: u64,
}

impl<'a> Position<'a> {
    fn of<T>(path: &'a Path, spanned: &Spanned<T>) -> Self {
        Self {
            path,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        }
    }
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// One `key: value` line of the file, both with their positions.
struct Entry {
    key: Spanned<String>,
    value: Spanned<FileValue>,
}

/// A value as YAML gave it, before the flag's parser sees its text.
#[derive(Debug)]
enum FileValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Spanned<FileValue>>),
    Map,
}

impl FileValue {
    /// The text a flag would be given, for a scalar.
    fn scalar(&self) -> Option<String> {
        match self {
            Self::Bool(b) => Some(b.to_string()),
            Self::Int(n) => Some(n.to_string()),
            Self::Float(x) => Some(x.to_string()),
            Self::Str(s) => Some(s.clone()),
            Self::Null | Self::List(_) | Self::Map => None,
        }
    }
}

impl fmt::Display for FileValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("no value"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Str(s) => write!(f, "{s:?}"),
            Self::List(_) => f.write_str("a list"),
            Self::Map => f.write_str("a mapping"),
        }
    }
}

impl<'de> Deserialize<'de> for FileValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FileValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_unit<E>(self) -> Result<FileValue, E> {
                Ok(FileValue::Null)
            }
            fn visit_none<E>(self) -> Result<FileValue, E> {
                Ok(FileValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FileValue, D::Error> {
                FileValue::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<FileValue, E> {
                Ok(FileValue::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<FileValue, E> {
                Ok(FileValue::Int(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<FileValue, E> {
                Ok(FileValue::Int(n.into()))
            }
            fn visit_i128<E>(self, n: i128) -> Result<FileValue, E> {
                Ok(FileValue::Int(n))
            }
            fn visit_f64<E>(self, x: f64) -> Result<FileValue, E> {
                Ok(FileValue::Float(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<FileValue, E> {
                Ok(FileValue::Str(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<FileValue>>()? {
                    items.push(item);
                }
                Ok(FileValue::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileValue, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(FileValue::Map)
            }
        }
        d.deserialize_any(V)
    }
}

/// The file's top-level mapping, in the file's order.
struct Entries(Vec<Entry>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of keys to values, such as `dev: true`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry()? {
                    entries.push(Entry { key, value });
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// The file's entries; a YAML error names the position the YAML library gives.
fn parse(path: &Path, text: &str) -> anyhow::Result<Vec<Entry>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_saphyr::from_str::<Entries>(text)
        .map(|e| e.0)
        .map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let full = e.to_string();
            let first = full.lines().next().unwrap_or(&full);
            let mut msg = first.strip_prefix("error: ").unwrap_or(first);
            if msg.starts_with("line ") {
                if let Some(i) = msg.find(": ") {
                    msg = &msg[i + 2..];
                }
            }
            usage(format!("{}:{line}:{column}: {msg}", path.display()))
        })
}

/// `ferry edge config check`: every key with its effective value, as YAML that `--config`
/// reads back. A flag whose environment values clap hides (a secret) shows only whether
/// it is set.
pub fn print_merged(matches: &ArgMatches) {
    let cmd = edge_command();
    for (key, arg) in keyed_args(&cmd) {
        let id = arg.get_id().as_str();
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let line = if is_switch(&arg) {
            format!("{key}: {}", values.first().map_or("false", |v| v.as_str()))
        } else if arg.is_hide_env_values_set() && !values.is_empty() {
            format!("{key}: \"(set)\"")
        } else if is_repeatable(&arg) {
            let items: Vec<String> = values.iter().map(|v| yaml_scalar(v)).collect();
            format!("{key}: [{}]", items.join(", "))
        } else {
            match values.first() {
                Some(v) => format!("{key}: {}", yaml_scalar(v)),
                None => format!("{key}: null"),
            }
        };
        println!("{line}");
    }
}

/// A value as a YAML scalar: plain when YAML reads it back as the same text, else quoted
/// (a JSON string is a YAML double-quoted one).
fn yaml_scalar(v: &str) -> String {
    let plain = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !v.ends_with(':')
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        v.to_string()
    } else {
        serde_json::Value::String(v.to_string()).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_of_the_edge_has_a_key() {
        let keys: Vec<String> = keyed_args(&edge_command())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for key in [
            "api_addr",
            "region",
            "ns_target",
            "public_ip",
            "ingress_domain",
            "dev",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "config" || k == "help"));
    }

    #[test]
    fn values_keep_their_positions() {
        let text = "dev: true\nregion: [us, eu]\ndrain_timeout: 5\n";
        let entries = parse(Path::new("e.yml"), text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].key.value, "drain_timeout");
        assert_eq!(entries[2].value.referenced.line(), 3);
        assert_eq!(entries[2].value.referenced.column(), 16);
        let FileValue::List(items) = &entries[1].value.value else {
            panic!("a list")
        };
        assert_eq!(items[1].referenced.column(), 14);
    }

    #[test]
    fn a_bad_value_is_refused_by_the_flags_own_parser_at_its_position() {
        let cmd = edge_command();
        let keyed = keyed_args(&cmd);
        let (_, arg) = keyed.iter().find(|(k, _)| k == "api_addr").unwrap();
        let text = "api_addr: nowhere\n";
        let entries = parse(Path::new("e.yml"), text).unwrap();
        let err = file_values(Path::new("e.yml"), &cmd, "api_addr", arg, &entries[0].value)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("e.yml:1:11: api_addr: "), "{err}");
        assert!(err.contains("nowhere"), "{err}");
    }

    #[test]
    fn scalars_print_as_yaml_that_reads_back() {
        assert_eq!(yaml_scalar("127.0.0.1:0"), "127.0.0.1:0");
        assert_eq!(yaml_scalar("[::1]:0"), "\"[::1]:0\"");
        assert_eq!(yaml_scalar("no"), "\"no\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("ferry-data"), "ferry-data");
    }

    #[test]
    fn similar_keys_are_suggested() {
        let keyed = keyed_args(&edge_command());
        assert!(unknown_key("api_adr", &keyed).contains("did you mean \"api_addr\""));
    }
}
