//! The `description` and `metadata` that every resource but bot users carries: the user's own
//! words about it, with the same limits, PATCH rules, answer fields and schemas everywhere,
//! so they are written here once.

use ferry_store::{
    AgentIngress, ApiKey, CertificateAuthority, Credential, ReservedAddr, ReservedDomain,
    TlsCertificate,
};
use serde_json::{json, Value};

use crate::openapi::{self, obj, s};
use crate::resource::{ApiResult, Resource};
use crate::validate;
use crate::AppState;

/// A resource with a `description` and `metadata`.
pub(crate) trait Described: Resource {
    fn texts(&self) -> (&str, &str);
    fn texts_mut(&mut self) -> (&mut String, &mut String);
}

macro_rules! described {
    ($($resource:ty),*) => {$(
        impl Described for $resource {
            fn texts(&self) -> (&str, &str) {
                (&self.description, &self.metadata)
            }

            fn texts_mut(&mut self) -> (&mut String, &mut String) {
                (&mut self.description, &mut self.metadata)
            }
        }
    )*};
}

described!(
    AgentIngress,
    ApiKey,
    CertificateAuthority,
    Credential,
    ReservedAddr,
    ReservedDomain,
    TlsCertificate
);

/// A new resource's `description` and `metadata`, absent ones empty, both checked.
pub(crate) fn created(
    description: Option<String>,
    metadata: Option<String>,
) -> ApiResult<(String, String)> {
    let (description, metadata) = (
        description.unwrap_or_default(),
        metadata.unwrap_or_default(),
    );
    validate::description(&description)?;
    validate::metadata(&metadata)?;
    Ok((description, metadata))
}

/// Applies a PATCH's `description` and `metadata` and checks the result.
pub(crate) fn patch<R: Described>(
    r: &mut R,
    description: Option<String>,
    metadata: Option<String>,
) -> ApiResult<()> {
    let (d, m) = r.texts_mut();
    validate::patch(d, description);
    validate::patch(m, metadata);
    validate::description(d)?;
    validate::metadata(m)
}

/// One answered: `id`, `uri`, `created_at`, `description` and `metadata`, then the
/// resource's own `fields` (an object).
pub(crate) fn item<R: Described>(s: &AppState, r: &R, fields: Value) -> Value {
    let (description, metadata) = r.texts();
    let mut item = json!({
        "id": r.id().to_string(),
        "uri": s.url(&format!("{}/{}", R::REST.path, r.id())),
        "created_at": r.created_at(),
        "description": description,
        "metadata": metadata,
    });
    if let (Some(all), Value::Object(own)) = (item.as_object_mut(), fields) {
        all.extend(own);
    }
    item
}

/// The schema of one answered: the fields [`item`] adds, then `extra`.
pub(crate) fn schema(extra: &[(&str, Value)]) -> Value {
    let mut all = vec![
        ("id", s()),
        ("uri", s()),
        ("created_at", s()),
        ("description", s()),
        ("metadata", s()),
    ];
    all.extend(extra.iter().cloned());
    obj(&all)
}

/// The schema of a create or update body: `description`, `metadata`, then `extra`.
pub(crate) fn input(extra: &[(&str, Value)], required: &[&str]) -> Value {
    let mut all = vec![("description", s()), ("metadata", s())];
    all.extend(extra.iter().cloned());
    openapi::input(&all, required)
}
