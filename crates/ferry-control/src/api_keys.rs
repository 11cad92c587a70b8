//! `/api_keys`: bearer keys for this API. The token is in the create response only.

use ferry_store::ApiKey;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::openapi::{described, input, ns, obj, s};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::validate::{self, Described};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    description: Option<String>,
    metadata: Option<String>,
    owner_id: Option<String>,
}

fn render(s: &AppState, k: &ApiKey, token: Option<&str>) -> Value {
    json!({
        "id": k.id.to_string(),
        "uri": s.url(&format!("/api_keys/{}", k.id)),
        "description": k.description,
        "metadata": k.metadata,
        "created_at": k.created_at,
        "token": token,
        "owner_id": k.owner_id,
    })
}

impl Resource for ApiKey {
    const REST: Rest = Rest::new("/api_keys", "keys", "API key", "ApiKey");
    type Create = Create;
    type Update = Described;

    fn render(s: &AppState, k: &Self) -> Value {
        render(s, k, None)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let (description, metadata) = validate::created(c.description, c.metadata)?;
        let owner = crate::credentials::owner(s, c.owner_id.unwrap_or_default()).await?;
        let (k, token) = s
            .store
            .create_api_key(&description, &metadata, &owner)
            .await?;
        Ok(render(s, &k, Some(token.expose())))
    }

    async fn update(_s: &AppState, k: &mut Self, u: Described) -> ApiResult<()> {
        validate::patched(
            (&mut k.description, &mut k.metadata),
            u.description,
            u.metadata,
        )
    }

    fn schemas() -> Schemas {
        Schemas {
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("description", s()),
                ("metadata", s()),
                ("created_at", s()),
                ("token", ns()),
                ("owner_id", s()),
            ]),
            create: input(&described(vec![("owner_id", s())]), &[]),
            update: input(&described(vec![]), &[]),
        }
    }
}
