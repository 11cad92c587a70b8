//! The agent's ngrok.yml (version "2") as `ferry agent --config FILE` reads it: the text goes
//! through `config::parse` (serde-saphyr), the tunnels through `tunnel_spec`, and the agent
//! keys through the accessors the agent calls next. A config file is hand-written and often
//! copied from a guide, so none of it may panic, and every error must name the file, with a
//! line and column inside the text when it gives one.
#![no_main]

use std::path::{Path, PathBuf};

use ferry_agent::config::{self, tunnel_spec, Config, ConfigError, Origin, TunnelDef};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz/ngrok.yml";

fuzz_target!(|data: &[u8]| {
    // `config::load` reads the file with `read_to_string`: bytes that are not UTF-8 end
    // there, with the path, before the parser sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new(FILE);
    // Upper bounds for a position in `text`: YAML breaks lines at \n, \r and \r\n.
    let max_line = 2 + text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count() as u64;
    let max_column = 2 + text.chars().count() as u64;

    let mut raw = match config::parse(path, text) {
        Ok(raw) => raw,
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.starts_with(FILE),
                "error does not name the file: {shown:?}"
            );
            match &e {
                ConfigError::Parse {
                    line, column, msg, ..
                } => {
                    assert!(!msg.is_empty(), "empty message: {shown:?}");
                    assert!(
                        *line <= max_line && *column <= max_column,
                        "position {line}:{column} is outside the text: {shown:?}"
                    );
                }
                other => panic!("parse gave a non-parse error: {other:?}"),
            }
            return;
        }
    };

    // What `config::load` does with one parsed file (its merge is private): the tunnels move
    // to `Config::tunnels` with where they were defined.
    let mut config = Config {
        files: vec![PathBuf::from(FILE)],
        ..Config::default()
    };
    for (name, spanned) in raw.tunnels.take().unwrap_or_default() {
        let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
        assert!(
            (1..=max_line).contains(&line) && column <= max_column,
            "tunnel {name:?} defined at {line}:{column}, outside the text"
        );
        let origin = Origin {
            file: PathBuf::from(FILE),
            line,
            column,
        };
        config.tunnels.insert(
            name,
            TunnelDef {
                raw: spanned.value,
                origin,
            },
        );
    }
    config.agent = raw;

    // The agent-level values the agent reads before it connects.
    for (key, value) in [
        ("connect_timeout", config.agent.connect_timeout.clone()),
        (
            "heartbeat_interval",
            config.agent.heartbeat_interval.clone(),
        ),
        (
            "heartbeat_tolerance",
            config.agent.heartbeat_tolerance.clone(),
        ),
    ] {
        if let Err(e) = config.duration(key, &value) {
            let shown = e.to_string();
            assert!(shown.starts_with(FILE) && shown.contains(key), "{shown:?}");
        }
    }
    let _ = config.web_addr();
    if let Err(e) = config.inspect_db_size() {
        assert!(e.to_string().starts_with(FILE), "{e}");
    }

    // `ferry agent start NAME...`: every defined name is found, an undefined one is an error
    // that names the file.
    let names: Vec<String> = config.tunnels.keys().cloned().collect();
    let selected = config
        .select(&names)
        .expect("every defined tunnel is selectable");
    assert_eq!(selected.len(), names.len());
    let missing = format!("{}-missing", names.concat());
    let e = config
        .select(&[missing])
        .expect_err("an undefined tunnel name is an error");
    assert!(e.to_string().contains(FILE), "{e}");

    for (name, def) in selected {
        match tunnel_spec(&name, &def.raw) {
            Ok((spec, warnings)) => {
                assert_eq!(spec.name, name);
                assert!(warnings.iter().all(|w| !w.is_empty()));
            }
            Err(msg) => assert!(!msg.is_empty(), "tunnel {name:?}: empty error"),
        }
    }
});
