//! Bot users: owners of authtokens that belong to no person (the guides' agents).

use ferry_types::ResourceId;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, Store, StoreError};

#[derive(Clone, Debug)]
pub struct BotUser {
    pub id: ResourceId,
    pub name: String,
    pub active: bool,
    pub created_at: String,
}

impl Record for BotUser {
    const TABLE: Table = Table {
        name: "bot_users",
        prefix: "bot",
        columns: &["id", "name", "active", "created_at"],
        mutable: &["name", "active"],
    };

    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            (&self.id).into(),
            (&self.name).into(),
            self.active.into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            name: f.text("name")?,
            active: f.flag("active")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_bot_user(&self, name: &str, active: bool) -> Result<BotUser, StoreError> {
        let bot = BotUser {
            id: ResourceId::generate(BotUser::TABLE.prefix),
            name: name.to_string(),
            active,
            created_at: now_rfc3339(),
        };
        self.insert(&bot, &[]).await?;
        Ok(bot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing, Page};

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
                    .list::<BotUser>(&Page {
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
