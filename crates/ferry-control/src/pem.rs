//! Reading uploaded PEM: certificates are parsed for the fields the API shows, and a private
//! key where a certificate belongs is named as such (the guides once pass the CA's key as
//! `mutual_tls_cas`).

use ferry_types::ErrorCode;
use serde_json::{Map, Value};
use x509_parser::pem::Pem;

use crate::openapi::{obj, s, strings};
use crate::ApiError;

/// The blocks of the PEM text in `field`, each refused with the same words when it is not
/// readable: certificates and private keys are read alike.
fn blocks<'a>(field: &'a str, pem: &'a str) -> impl Iterator<Item = Result<Pem, ApiError>> + 'a {
    Pem::iter_from_buffer(pem.as_bytes()).map(move |block| {
        block.map_err(|e| {
            ApiError::new(
                ErrorCode::PemInvalid,
                format!("field {field:?}: not readable PEM: {e}"),
            )
        })
    })
}

/// The DER of every `CERTIFICATE` block in `pem`, refusing private keys and empty input.
fn certificates(field: &str, pem: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut ders = Vec::new();
    for block in blocks(field, pem) {
        let block = block?;
        if block.label.contains("PRIVATE KEY") {
            return Err(ApiError::new(
                ErrorCode::PemInvalid,
                format!("field {field:?}: this is a private key ({}), not a certificate; upload the CA certificate (ca-crt.pem), never a key", block.label),
            ));
        }
        if block.label == "CERTIFICATE" {
            ders.push(block.contents);
        }
    }
    if ders.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PemInvalid,
            format!("field {field:?}: no -----BEGIN CERTIFICATE----- block found"),
        ));
    }
    Ok(ders)
}

/// The fields of the first certificate in `pem` (a chain is leaf first), as
/// [`ferry_pki::describe_der`] makes them, once every block is read and no private key is
/// among them.
pub fn first_certificate(field: &str, pem: &str) -> Result<Value, ApiError> {
    let ders = certificates(field, pem)?;
    ferry_pki::describe_der(&ders[0])
        .map_err(|e| ApiError::new(ErrorCode::PemInvalid, format!("field {field:?}: {e}")))
}

/// Checks that `pem` holds a private key block and no certificate.
pub fn private_key(field: &str, pem: &str) -> Result<(), ApiError> {
    let mut found = false;
    for block in blocks(field, pem) {
        let block = block?;
        if block.label == "CERTIFICATE" {
            return Err(ApiError::new(
                ErrorCode::PemInvalid,
                format!("field {field:?}: this is a certificate, not a private key"),
            ));
        }
        found |= block.label.ends_with("PRIVATE KEY");
    }
    if !found {
        return Err(ApiError::new(
            ErrorCode::PemInvalid,
            format!("field {field:?}: no -----BEGIN ... PRIVATE KEY----- block found"),
        ));
    }
    Ok(())
}

/// What an answer shows of the fields [`ferry_pki::describe_der`] stored: a certificate authority shows a few,
/// a TLS certificate all of them. The answer ([`shown`]) and its schema ([`shown_schema`]) are
/// both made from the resource's one list of `names`, so they cannot disagree. A field an
/// older record lacks is `null`.
pub fn shown(parsed: &Value, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .map(|name| ((*name).to_string(), parsed[*name].clone()))
        .collect()
}

/// The schemas of the fields [`shown`] answers.
pub fn shown_schema(names: &[&'static str]) -> Vec<(&'static str, Value)> {
    names
        .iter()
        .map(|name| {
            let schema = match *name {
                "key_usages" | "extended_key_usages" => strings(),
                "subject_alternative_names" => obj(&[("dns_names", strings()), ("ips", strings())]),
                _ => s(),
            };
            (*name, schema)
        })
        .collect()
}
