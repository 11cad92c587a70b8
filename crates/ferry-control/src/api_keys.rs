//! `/api_keys`: bearer keys for this API. The token is in the create response only.

use ferry_api::requests::{ApiKeyCreate as Create, DescribedUpdate};
use ferry_store::ApiKey;
use serde_json::{json, Value};

use crate::described;
use crate::openapi::{ns, s};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::AppState;

fn render(s: &AppState, k: &ApiKey, token: Option<&str>) -> Value {
    described::item(s, k, json!({ "token": token, "owner_id": k.owner_id }))
}

impl Resource for ApiKey {
    const REST: Rest = Rest::new("/api_keys", "keys", "API key", "ApiKey");
    type Create = Create;
    type Update = DescribedUpdate;

    fn render(s: &AppState, k: &Self) -> Value {
        render(s, k, None)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let owner = crate::credentials::owner(s, c.owner_id.unwrap_or_default()).await?;
        let (k, token) = s
            .store
            .create_api_key(&description, &metadata, &owner)
            .await?;
        Ok(render(s, &k, Some(token.expose())))
    }

    async fn update(_s: &AppState, k: &mut Self, u: DescribedUpdate) -> ApiResult<()> {
        described::patch(k, u.description, u.metadata)
    }

    /// Its dashboard sessions end with it (each request also checks the key is still there).
    async fn deleted(s: &AppState, k: &Self) -> ApiResult<()> {
        s.store.end_dashboard_sessions_of(k.id.as_str()).await?;
        Ok(())
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[("token", ns()), ("owner_id", s())]),
            create: described::input(&[("owner_id", s())], &[]),
            update: described::input(&[], &[]),
        }
    }
}
