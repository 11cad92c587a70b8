//! Bot users: owners of authtokens that belong to no person (the guides' agents).

use crate::record::record;

record! {
    pub struct BotUser, new NewBotUser {
        table: "bot_users",
        prefix: "bot",
        mutable: [name, active],
        unique: None,
    }
    columns {
        pub name: String,
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
