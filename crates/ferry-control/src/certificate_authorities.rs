//! `/certificate_authorities`: uploaded CA certificates for mutual TLS. The response carries
//! the parsed subject, validity and key usages.

use ferry_api::requests::{CertificateAuthorityCreate as Create, DescribedUpdate};
use ferry_store::{CertificateAuthority, NewCertificateAuthority};
use serde_json::{json, Value};

use crate::described;
use crate::openapi::s;
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::validate;
use crate::{pem, AppState};

/// The certificate's own fields an answer shows, as ngrok does.
const SHOWN: &[&str] = &[
    "subject_common_name",
    "not_before",
    "not_after",
    "key_usages",
    "extended_key_usages",
];

impl Resource for CertificateAuthority {
    const REST: Rest = Rest::new(
        "/certificate_authorities",
        "certificate_authorities",
        "certificate authority",
        "CertificateAuthority",
    );
    type Create = Create;
    type Update = DescribedUpdate;

    fn render(s: &AppState, c: &Self) -> Value {
        let mut fields = pem::shown(&c.parsed, SHOWN);
        fields.insert("ca_pem".into(), json!(c.ca_pem));
        described::item(s, c, Value::Object(fields))
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let ca_pem =
            validate::required("ca_pem", c.ca_pem, "is required: the CA certificate in PEM")?;
        let parsed = pem::first_certificate("ca_pem", &ca_pem)?;
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

    async fn update(_s: &AppState, c: &mut Self, u: DescribedUpdate) -> ApiResult<()> {
        described::patch(c, u.description, u.metadata)
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[vec![("ca_pem", s())], pem::shown_schema(SHOWN)].concat()),
            create: described::input(&[("ca_pem", s())], &["ca_pem"]),
            update: described::input(&[], &[]),
        }
    }
}
