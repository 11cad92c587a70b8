//! `/bot_users`: owners of authtokens that belong to no person. Deactivating (or deleting) a
//! bot revokes its authtokens: their live sessions are closed and they stop authenticating.

use ferry_api::requests::BotUserBody as Body;
use ferry_store::{BotUser, Credential, NewBotUser};
use serde_json::{json, Value};

use crate::openapi::{b, input, obj, s};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::{ApiError, AppState};

fn check_name(name: &str) -> ApiResult<()> {
    crate::validate::description(name).map_err(|_| ApiError::field("name", "longer than 255 bytes"))
}

impl Resource for BotUser {
    const REST: Rest = Rest::new("/bot_users", "bot_users", "bot user", "BotUser");
    type Create = Body;
    type Update = Body;

    fn render(s: &AppState, b: &Self) -> Value {
        json!({
            "id": b.id.to_string(),
            "uri": s.url(&format!("/bot_users/{}", b.id)),
            "name": b.name,
            "active": b.active,
            "created_at": b.created_at,
        })
    }

    async fn create(s: &AppState, c: Body) -> ApiResult<Value> {
        let name = c.name.unwrap_or_default();
        check_name(&name)?;
        let new = NewBotUser {
            name,
            active: c.active.unwrap_or(true),
        };
        Ok(Self::render(s, &s.store.create::<BotUser>(new).await?))
    }

    async fn update(_s: &AppState, b: &mut Self, u: Body) -> ApiResult<()> {
        crate::validate::patch(&mut b.name, u.name);
        if let Some(active) = u.active {
            b.active = active;
        }
        Ok(())
    }

    async fn updated(s: &AppState, before: &Self, after: &Self) -> ApiResult<()> {
        if before.active && !after.active {
            let tokens = s.store.credentials_owned_by(after.id.as_str()).await?;
            let closed = s.live.close_sessions_of(&tokens);
            tracing::info!(bot = %after.id, closed, "bot user deactivated: its sessions are closed");
        }
        Ok(())
    }

    async fn deleted(s: &AppState, b: &Self) -> ApiResult<()> {
        let tokens = s.store.credentials_owned_by(b.id.as_str()).await?;
        for t in &tokens {
            s.store.delete::<Credential>(t).await?;
        }
        s.live.close_sessions_of(&tokens);
        Ok(())
    }

    fn schemas() -> Schemas {
        let body = || input(&[("name", s()), ("active", b())], &[]);
        Schemas {
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("name", s()),
                ("active", b()),
                ("created_at", s()),
            ]),
            create: body(),
            update: body(),
        }
    }
}
