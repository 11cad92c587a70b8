//! `/certificate_authorities`: uploaded CA certificates for mutual TLS. The response carries
//! the parsed subject, validity and key usages.

use ferry_store::{CertificateAuthority, NewCertificateAuthority};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::described;
use crate::openapi::{s, strings};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::{pem, ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    description: Option<String>,
    metadata: Option<String>,
    ca_pem: Option<String>,
}

impl Resource for CertificateAuthority {
    const REST: Rest = Rest::new(
        "/certificate_authorities",
        "certificate_authorities",
        "certificate authority",
        "CertificateAuthority",
    );
    type Create = Create;
    type Update = described::Update;

    fn render(s: &AppState, c: &Self) -> Value {
        let p = &c.parsed;
        let fields = json!({
            "ca_pem": c.ca_pem,
            "subject_common_name": p["subject_common_name"],
            "not_before": p["not_before"],
            "not_after": p["not_after"],
            "key_usages": p["key_usages"],
            "extended_key_usages": p["extended_key_usages"],
        });
        described::item(s, c, fields)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let ca_pem = c.ca_pem.unwrap_or_default();
        if ca_pem.trim().is_empty() {
            return Err(ApiError::field(
                "ca_pem",
                "is required: the CA certificate in PEM",
            ));
        }
        let ders = pem::certificates("ca_pem", &ca_pem)?;
        let parsed = pem::describe(&pem::parse("ca_pem", &ders[0])?);
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let new = NewCertificateAuthority {
            description,
            metadata,
            ca_pem,
            parsed,
        };
        Ok(Self::render(
            s,
            &s.store.create::<CertificateAuthority>(new).await?,
        ))
    }

    async fn update(_s: &AppState, c: &mut Self, u: described::Update) -> ApiResult<()> {
        described::patch(c, u.description, u.metadata)
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[
                ("ca_pem", s()),
                ("subject_common_name", s()),
                ("not_before", s()),
                ("not_after", s()),
                ("key_usages", strings()),
                ("extended_key_usages", strings()),
            ]),
            create: described::input(&[("ca_pem", s())], &["ca_pem"]),
            update: described::input(&[], &[]),
        }
    }
}
