//! Where config files live when no `--config` is given.

use std::path::PathBuf;

/// ngrok's default file for this OS, then Ferry's own; both are read when present, Ferry's
/// last so that it wins.
pub fn default_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = ngrok_default_path() {
        out.push(p);
    }
    if let Some(p) = ferry_default_path() {
        out.push(p);
    }
    out
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(".config")))
}

/// `~/.config/ngrok/ngrok.yml` on Linux, `~/Library/Application Support/ngrok/ngrok.yml` on
/// macOS, `%HOMEPATH%\AppData\Local\ngrok\ngrok.yml` on Windows.
fn ngrok_default_path() -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Application Support/ngrok/ngrok.yml"))
    } else if cfg!(windows) {
        std::env::var_os("HOMEPATH")
            .map(PathBuf::from)
            .or_else(home)
            .map(|h| {
                h.join("AppData")
                    .join("Local")
                    .join("ngrok")
                    .join("ngrok.yml")
            })
    } else {
        config_home().map(|c| c.join("ngrok").join("ngrok.yml"))
    }
}

/// `~/.config/ferry/ferry.yml` (the XDG config home on every OS).
pub fn ferry_default_path() -> Option<PathBuf> {
    config_home().map(|c| c.join("ferry").join("ferry.yml"))
}
