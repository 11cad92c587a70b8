//! Fixtures and certificate builders shared by the unit tests.

use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::CertificateDer;

/// A committed fixture made by `tests/fixtures/make-fixtures.sh` (openssl, as the guides do).
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub(crate) fn fixture_der(name: &str) -> CertificateDer<'static> {
    crate::load_cert_chain(&fixture(name))
        .expect("fixture certificate loads")
        .remove(0)
}

/// Writes `contents` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path
}

/// A self-signed certificate for "x.test" with `edit` applied to rcgen's defaults.
pub(crate) fn self_signed(edit: impl FnOnce(&mut CertificateParams)) -> CertificateDer<'static> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::new(vec!["x.test".to_owned()]).expect("params");
    edit(&mut params);
    params.self_signed(&key).expect("sign").der().clone()
}
