//! `/tls_certificates`: uploaded certificates (chain, leaf first) with their private keys.
//! The key is kept for serving and never returned.

use ferry_store::{NewTlsCertificate, TlsCertificate};
use ferry_types::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};
use x509_parser::pem::Pem;

use crate::described;
use crate::openapi::{ns, obj, s, strings};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::{pem, ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    description: Option<String>,
    metadata: Option<String>,
    certificate_pem: Option<String>,
    private_key_pem: Option<String>,
}

/// The key must be one PEM private key block.
fn check_key(key: &str) -> Result<(), ApiError> {
    let mut found = false;
    for block in Pem::iter_from_buffer(key.as_bytes()) {
        let block = block.map_err(|e| {
            ApiError::new(
                ErrorCode::PemInvalid,
                format!("field \"private_key_pem\": not readable PEM: {e}"),
            )
        })?;
        if block.label == "CERTIFICATE" {
            return Err(ApiError::new(
                ErrorCode::PemInvalid,
                "field \"private_key_pem\": this is a certificate, not a private key",
            ));
        }
        found |= block.label.ends_with("PRIVATE KEY");
    }
    if !found {
        return Err(ApiError::new(
            ErrorCode::PemInvalid,
            "field \"private_key_pem\": no -----BEGIN ... PRIVATE KEY----- block found",
        ));
    }
    Ok(())
}

impl Resource for TlsCertificate {
    const REST: Rest = Rest::new(
        "/tls_certificates",
        "tls_certificates",
        "TLS certificate",
        "TlsCertificate",
    );
    type Create = Create;
    type Update = described::Update;

    fn render(s: &AppState, c: &Self) -> Value {
        let p = &c.parsed;
        let fields = json!({
            "certificate_pem": c.certificate_pem,
            "subject_common_name": p["subject_common_name"],
            "subject_alternative_names": p["subject_alternative_names"],
            "issued_at": null,
            "not_before": p["not_before"],
            "not_after": p["not_after"],
            "key_usages": p["key_usages"],
            "extended_key_usages": p["extended_key_usages"],
            "private_key_type": p["private_key_type"],
            "issuer_common_name": p["issuer_common_name"],
            "serial_number": p["serial_number"],
            "subject_organization": p["subject_organization"],
            "subject_organizational_unit": p["subject_organizational_unit"],
            "subject_locality": p["subject_locality"],
            "subject_province": p["subject_province"],
            "subject_country": p["subject_country"],
        });
        described::item(s, c, fields)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let certificate_pem = c.certificate_pem.unwrap_or_default();
        let private_key_pem = c.private_key_pem.unwrap_or_default();
        if certificate_pem.trim().is_empty() {
            return Err(ApiError::field("certificate_pem", "is required"));
        }
        if private_key_pem.trim().is_empty() {
            return Err(ApiError::field("private_key_pem", "is required"));
        }
        let ders = pem::certificates("certificate_pem", &certificate_pem)?;
        let parsed = pem::describe(&pem::parse("certificate_pem", &ders[0])?);
        check_key(&private_key_pem)?;
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let new = NewTlsCertificate {
            description,
            metadata,
            certificate_pem,
            private_key_pem: s.store.seal(&private_key_pem)?,
            parsed,
            managed_by: String::new(),
        };
        Ok(Self::render(
            s,
            &s.store.create::<TlsCertificate>(new).await?,
        ))
    }

    async fn update(_s: &AppState, c: &mut Self, u: described::Update) -> ApiResult<()> {
        described::patch(c, u.description, u.metadata)
    }

    async fn deleted(s: &AppState, _c: &Self) -> ApiResult<()> {
        s.live.certificates_changed();
        Ok(())
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[
                ("certificate_pem", s()),
                ("subject_common_name", s()),
                (
                    "subject_alternative_names",
                    obj(&[("dns_names", strings()), ("ips", strings())]),
                ),
                ("issued_at", ns()),
                ("not_before", s()),
                ("not_after", s()),
                ("key_usages", strings()),
                ("extended_key_usages", strings()),
                ("private_key_type", s()),
                ("issuer_common_name", s()),
                ("serial_number", s()),
                ("subject_organization", s()),
                ("subject_organizational_unit", s()),
                ("subject_locality", s()),
                ("subject_province", s()),
                ("subject_country", s()),
            ]),
            create: described::input(
                &[("certificate_pem", s()), ("private_key_pem", s())],
                &["certificate_pem", "private_key_pem"],
            ),
            update: described::input(&[], &[]),
        }
    }
}
