//! `/credentials`: authtokens for agents, with their `bind:` ACL. The token is in the create
//! response only. Deleting one closes its live sessions.

use ferry_api::requests::{CredentialCreate as Create, CredentialUpdate as Update};
use ferry_store::{BotUser, Credential, NewCredential};
use ferry_types::{acl, ErrorCode};
use serde_json::{json, Value};

use crate::described;
use crate::openapi::{ns, s, strings};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::{ApiError, AppState};

fn render(s: &AppState, c: &Credential, token: Option<&str>) -> Value {
    described::item(
        s,
        c,
        json!({ "token": token, "acl": c.acl, "owner_id": c.owner_id }),
    )
}

fn check_acl(rules: &[String]) -> Result<(), ApiError> {
    for (i, r) in rules.iter().enumerate() {
        acl::validate_rule(r).map_err(|e| {
            ApiError::new(
                ErrorCode::AclRuleInvalid,
                format!("field \"acl[{i}]\": {e}"),
            )
        })?;
    }
    Ok(())
}

/// An `owner_id` must name an existing bot user; empty means the caller's account.
pub(crate) async fn owner(s: &AppState, owner_id: String) -> Result<String, ApiError> {
    if owner_id.is_empty() {
        return Ok(owner_id);
    }
    let known = match ferry_types::ResourceId::parse(&owner_id, "bot") {
        Ok(_) => s.store.get::<BotUser>(&owner_id).await?.is_some(),
        Err(_) => false,
    };
    if !known {
        return Err(ApiError::new(
            ErrorCode::OwnerUnknown,
            format!("field \"owner_id\": {owner_id:?} is not a bot user of this edge (create one with POST /bot_users)"),
        ));
    }
    Ok(owner_id)
}

impl Resource for Credential {
    const REST: Rest = Rest::new("/credentials", "credentials", "credential", "Credential");
    type Create = Create;
    type Update = Update;

    fn render(s: &AppState, c: &Self) -> Value {
        render(s, c, None)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let owner_id = owner(s, c.owner_id.unwrap_or_default()).await?;
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let acl = c.acl.unwrap_or_default();
        check_acl(&acl)?;
        let new = NewCredential {
            description,
            metadata,
            acl,
            owner_id,
        };
        let (c, token) = s.store.create_credential(new).await?;
        Ok(render(s, &c, Some(token.expose())))
    }

    async fn update(_s: &AppState, c: &mut Self, u: Update) -> ApiResult<()> {
        if let Some(rules) = u.acl {
            check_acl(&rules)?;
            c.acl = rules;
        }
        described::patch(c, u.description, u.metadata)
    }

    async fn deleted(s: &AppState, c: &Self) -> ApiResult<()> {
        let closed = s.live.close_sessions_of(&[c.id.to_string()]);
        tracing::info!(credential = %c.id, closed, "credential deleted: its sessions are closed");
        Ok(())
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[("token", ns()), ("acl", strings()), ("owner_id", s())]),
            create: described::input(&[("acl", strings()), ("owner_id", s())], &[]),
            update: described::input(&[("acl", strings())], &[]),
        }
    }
}
