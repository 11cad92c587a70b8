//! `/tls_certificates`: uploaded certificates (chain, leaf first) with their private keys.
//! The key is kept for serving and never returned.

use ferry_api::requests::{DescribedUpdate, TlsCertificateCreate as Create};
use ferry_store::{NewTlsCertificate, TlsCertificate};
use serde_json::{json, Value};

use crate::described;
use crate::openapi::{ns, s};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::validate;
use crate::{pem, AppState};

/// The certificate's own fields an answer shows: every one Ferry reads from it, as ngrok does.
const SHOWN: &[&str] = &[
    "subject_common_name",
    "subject_alternative_names",
    "not_before",
    "not_after",
    "key_usages",
    "extended_key_usages",
    "private_key_type",
    "issuer_common_name",
    "serial_number",
    "subject_organization",
    "subject_organizational_unit",
    "subject_locality",
    "subject_province",
    "subject_country",
];

impl Resource for TlsCertificate {
    const REST: Rest = Rest::new(
        "/tls_certificates",
        "tls_certificates",
        "TLS certificate",
        "TlsCertificate",
    );
    type Create = Create;
    type Update = DescribedUpdate;

    fn render(s: &AppState, c: &Self) -> Value {
        let mut fields = pem::shown(&c.parsed, SHOWN);
        fields.insert("certificate_pem".into(), json!(c.certificate_pem));
        fields.insert("issued_at".into(), Value::Null);
        described::item(s, c, Value::Object(fields))
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let certificate_pem =
            validate::required("certificate_pem", c.certificate_pem, "is required")?;
        let private_key_pem =
            validate::required("private_key_pem", c.private_key_pem, "is required")?;
        let parsed = pem::first_certificate("certificate_pem", &certificate_pem)?;
        pem::private_key("private_key_pem", &private_key_pem)?;
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

    async fn update(_s: &AppState, c: &mut Self, u: DescribedUpdate) -> ApiResult<()> {
        described::patch(c, u.description, u.metadata)
    }

    async fn deleted(s: &AppState, _c: &Self) -> ApiResult<()> {
        s.live.certificates_changed();
        Ok(())
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(
                &[
                    vec![("certificate_pem", s())],
                    pem::shown_schema(SHOWN),
                    // ngrok's time of issue for a managed certificate; an uploaded one has none.
                    vec![("issued_at", ns())],
                ]
                .concat(),
            ),
            create: described::input(
                &[("certificate_pem", s()), ("private_key_pem", s())],
                &["certificate_pem", "private_key_pem"],
            ),
            update: described::input(&[], &[]),
        }
    }
}
