//! Reading uploaded PEM: certificates are parsed for the fields the API shows, and a private
//! key where a certificate belongs is named as such (the guides once pass the CA's key as
//! `mutual_tls_cas`).

use ferry_types::ErrorCode;
use serde_json::{json, Map, Value};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

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

/// The fields of the first certificate in `pem` (a chain is leaf first), as [`describe`] makes
/// them, once every block is read and no private key is among them.
pub fn first_certificate(field: &str, pem: &str) -> Result<Value, ApiError> {
    let ders = certificates(field, pem)?;
    Ok(describe(&parse(field, &ders[0])?))
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

/// Parses one certificate's DER.
fn parse<'a>(field: &str, der: &'a [u8]) -> Result<X509Certificate<'a>, ApiError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::PemInvalid,
                format!("field {field:?}: the certificate does not parse: {e}"),
            )
        })
}

fn time(t: x509_parser::time::ASN1Time) -> String {
    let t = t.to_datetime();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn first(
    name: &x509_parser::x509::X509Name<'_>,
    oid: &x509_parser::der_parser::oid::Oid<'_>,
) -> String {
    name.iter_by_oid(oid)
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The fields ngrok shows for a certificate authority or a TLS certificate, as stored.
fn describe(c: &X509Certificate<'_>) -> Value {
    use x509_parser::oid_registry as oids;
    let mut key_usages = Vec::new();
    let mut extended = Vec::new();
    let mut dns_names = Vec::new();
    let mut ips = Vec::new();
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                let flags = [
                    (ku.digital_signature(), "digital_signature"),
                    (ku.non_repudiation(), "content_commitment"),
                    (ku.key_encipherment(), "key_encipherment"),
                    (ku.data_encipherment(), "data_encipherment"),
                    (ku.key_agreement(), "key_agreement"),
                    (ku.key_cert_sign(), "cert_sign"),
                    (ku.crl_sign(), "crl_sign"),
                    (ku.encipher_only(), "encipher_only"),
                    (ku.decipher_only(), "decipher_only"),
                ];
                key_usages.extend(flags.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let flags = [
                    (eku.any, "any"),
                    (eku.server_auth, "server_auth"),
                    (eku.client_auth, "client_auth"),
                    (eku.code_signing, "code_signing"),
                    (eku.email_protection, "email_protection"),
                    (eku.time_stamping, "time_stamping"),
                    (eku.ocsp_signing, "ocsp_signing"),
                ];
                extended.extend(flags.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            dns_names.push(d.to_string())
                        }
                        x509_parser::extensions::GeneralName::IPAddress(b) => {
                            let ip = match b.len() {
                                4 => <[u8; 4]>::try_from(*b)
                                    .map(|a| std::net::IpAddr::from(a).to_string())
                                    .ok(),
                                16 => <[u8; 16]>::try_from(*b)
                                    .map(|a| std::net::IpAddr::from(a).to_string())
                                    .ok(),
                                _ => None,
                            };
                            ips.extend(ip);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let key_type = match c.public_key().parsed() {
        Ok(PublicKey::RSA(_)) => "rsa",
        Ok(PublicKey::EC(_)) => "ecdsa",
        _ if c.public_key().algorithm.algorithm == oids::OID_SIG_ED25519 => "ed25519",
        _ => "unknown",
    };
    let subject = c.subject();
    json!({
        "subject_common_name": first(subject, &oids::OID_X509_COMMON_NAME),
        "subject_organization": first(subject, &oids::OID_X509_ORGANIZATION_NAME),
        "subject_organizational_unit": first(subject, &oids::OID_X509_ORGANIZATIONAL_UNIT),
        "subject_locality": first(subject, &oids::OID_X509_LOCALITY_NAME),
        "subject_province": first(subject, &oids::OID_X509_STATE_OR_PROVINCE_NAME),
        "subject_country": first(subject, &oids::OID_X509_COUNTRY_NAME),
        "issuer_common_name": first(c.issuer(), &oids::OID_X509_COMMON_NAME),
        "serial_number": c.raw_serial_as_string().replace(':', ""),
        "not_before": time(c.validity().not_before),
        "not_after": time(c.validity().not_after),
        "key_usages": key_usages,
        "extended_key_usages": extended,
        "subject_alternative_names": { "dns_names": dns_names, "ips": ips },
        "private_key_type": key_type,
    })
}

/// What an answer shows of the fields [`describe`] stored: a certificate authority shows a few,
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
