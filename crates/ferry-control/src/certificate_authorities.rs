//! `/certificate_authorities`: uploaded CA certificates for mutual TLS. The response carries
//! the parsed subject, validity and key usages.

use ferry_store::{CertificateAuthority, NewCertificateAuthority};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::openapi::{described, input, obj, s, strings};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::validate::{self, Described};
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
    type Update = Described;

    fn render(s: &AppState, c: &Self) -> Value {
        let p = &c.parsed;
        json!({
            "id": c.id.to_string(),
            "uri": s.url(&format!("/certificate_authorities/{}", c.id)),
            "created_at": c.created_at,
            "description": c.description,
            "metadata": c.metadata,
            "ca_pem": c.ca_pem,
            "subject_common_name": p["subject_common_name"],
            "not_before": p["not_before"],
            "not_after": p["not_after"],
            "key_usages": p["key_usages"],
            "extended_key_usages": p["extended_key_usages"],
        })
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
        let (description, metadata) = validate::created(c.description, c.metadata)?;
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

    async fn update(_s: &AppState, c: &mut Self, u: Described) -> ApiResult<()> {
        validate::patched(
            (&mut c.description, &mut c.metadata),
            u.description,
            u.metadata,
        )
    }

    fn schemas() -> Schemas {
        Schemas {
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("ca_pem", s()),
                ("subject_common_name", s()),
                ("not_before", s()),
                ("not_after", s()),
                ("key_usages", strings()),
                ("extended_key_usages", strings()),
            ]),
            create: input(&described(vec![("ca_pem", s())]), &["ca_pem"]),
            update: input(&described(vec![]), &[]),
        }
    }
}
