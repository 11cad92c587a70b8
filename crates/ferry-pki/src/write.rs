//! Writing certificates and keys so that a reader never sees half a file and a key is never,
//! even briefly, readable by others.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use crate::error::PkiError;

/// Writes `contents` to `path` through a temporary file in the same directory and a rename.
/// `secret` files are created with mode 0600 from the start (not chmod-ed afterwards).
pub(crate) fn write_atomic(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = write_new(&tmp, contents, secret)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(PkiError::io("write", path)));
    if result.is_err() {
        // Best effort: the temporary file may not exist, and the first error is the one to report.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(PkiError::io("create", path))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(PkiError::io("write", path))
}

/// Whether `path` exists; an error to stat it (permissions) counts as existing, so that Ferry
/// never overwrites what it cannot see.
pub(crate) fn exists(path: &Path) -> bool {
    path.try_exists().unwrap_or(true)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn secret_files_are_private_and_no_temp_file_is_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("k.pem");
        let crt = dir.path().join("c.pem");
        write_atomic(&key, b"key", true).expect("write key");
        write_atomic(&crt, b"crt", false).expect("write cert");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(std::fs::read(&key).expect("read"), b"key");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            2,
            "no temp left"
        );
    }
}
