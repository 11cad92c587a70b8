//! Bot users: owners of authtokens that belong to no person (the guides' agents).

use ferry_types::ResourceId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_rfc3339, Listed, Page, Store, StoreError};

#[derive(Clone, Debug)]
pub struct BotUser {
    pub id: ResourceId,
    pub name: String,
    pub active: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, name, active, created_at";

impl Store {
    pub async fn create_bot_user(&self, name: &str, active: bool) -> Result<BotUser, StoreError> {
        let bot = BotUser {
            id: ResourceId::generate("bot"),
            name: name.to_string(),
            active,
            created_at: now_rfc3339(),
        };
        sqlx::query("INSERT INTO bot_users (id, name, active, created_at) VALUES ($1, $2, $3, $4)")
            .bind(bot.id.to_string())
            .bind(bot.name.clone())
            .bind(i64::from(bot.active))
            .bind(bot.created_at.clone())
            .execute(&self.pool)
            .await?;
        Ok(bot)
    }

    pub async fn bot_user(&self, id: &str) -> Result<Option<BotUser>, StoreError> {
        self.get_row("bot_users", COLUMNS, id, decode).await
    }

    pub async fn list_bot_users(&self, page: &Page) -> Result<Listed<BotUser>, StoreError> {
        self.list_page("bot_users", COLUMNS, page, decode).await
    }

    pub async fn update_bot_user(&self, b: &BotUser) -> Result<(), StoreError> {
        sqlx::query("UPDATE bot_users SET name = $1, active = $2 WHERE id = $3")
            .bind(b.name.clone())
            .bind(i64::from(b.active))
            .bind(b.id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_bot_user(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("bot_users", id).await
    }
}

fn decode(row: &AnyRow) -> Result<BotUser, StoreError> {
    let id: String = row.try_get("id")?;
    let active: i64 = row.try_get("active")?;
    Ok(BotUser {
        id: ResourceId::parse(&id, "bot").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        name: row.try_get("name")?,
        active: active != 0,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn pages_run_newest_first_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let mut made = Vec::new();
            for i in 0..5 {
                made.push(
                    store
                        .create_bot_user(&format!("b{i}"), true)
                        .await
                        .unwrap()
                        .id,
                );
            }
            made.reverse();
            let mut seen = Vec::new();
            let mut before = None;
            loop {
                let page = store
                    .list_bot_users(&Page {
                        before_id: before.clone(),
                        limit: 2,
                    })
                    .await
                    .unwrap();
                seen.extend(page.items.iter().map(|b| b.id.clone()));
                if !page.more {
                    break;
                }
                before = page.items.last().map(|b| b.id.to_string());
            }
            assert_eq!(seen, made, "{:?}", store.backend());
        }
    }
}
