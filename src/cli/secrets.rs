//! Secrets read from files: what systemd's `LoadCredential=`, a Kubernetes secret volume or
//! a root-only file under /etc provides, so that no secret needs a flag, which every user of
//! the machine sees in `ps`.

use std::path::Path;

use super::usage;

/// The file's content without the line break editors and `echo` leave at its end; `flag`
/// names where the file was given, for the message. An empty file is refused, since it is
/// almost always a file written before its secret was.
pub fn read(flag: &str, path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("{flag} {}: {e}", path.display())))?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.trim().is_empty() {
        return Err(usage(format!(
            "{flag} {}: the file is empty",
            path.display()
        )));
    }
    Ok(secret.to_string())
}
