//! Bot users: owners of authtokens that belong to no person (the guides' agents).

use crate::record::record;

record! {
    /// ngrok's `BotUser`: the owner of authtokens given to machines rather than people, so
    /// that deactivating it revokes all of them at once.
    pub struct BotUser, new NewBotUser {
        table: "bot_users",
        prefix: "bot",
        mutable: [name, active],
        unique: None,
    }
    columns {
        /// ngrok's `name`: the user's label, at most 255 bytes; nothing looks it up.
        pub name: String,
        /// ngrok's `active`. False refuses every authtoken the bot owns at Auth, and the
        /// control plane closes their live sessions when it turns false.
        pub active: bool,
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
                        .create::<BotUser>(NewBotUser {
                            name: format!("b{i}"),
                            active: true,
                        })
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
