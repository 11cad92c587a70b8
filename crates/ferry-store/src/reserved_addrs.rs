//! Reserved TCP addresses (`host:port`) on the edge's TCP range.

use crate::record::{record, Unique};
use crate::{Store, StoreError};

record! {
    /// ngrok's `ReservedAddr`: outside dev mode, a TCP endpoint gets the address it asks for
    /// only when it is reserved here.
    pub struct ReservedAddr, new NewReservedAddr {
        table: "reserved_addrs",
        prefix: "ra",
        mutable: [description, metadata],
        unique: Some(Unique { column: "addr", what: "reserved address" }),
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// ngrok's `addr`: `host:port` with the edge's public TCP host and a free port of its
        /// range, chosen by the control plane, never by the client.
        pub addr: String,
        /// ngrok's `region`, `us` when not given; recorded for clients, it changes no routing.
        pub region: String,
    }
}

impl Store {
    /// Every reserved address, to pick a free port for a new reservation.
    pub async fn reserved_addr_list(&self) -> Result<Vec<String>, StoreError> {
        self.column("SELECT addr FROM reserved_addrs", &[]).await
    }

    /// True when `addr` (`host:port`, as the bind asks for it) is reserved; outside dev mode
    /// the edge lets a TCP endpoint have a port only then.
    pub async fn addr_is_reserved(&self, addr: &str) -> Result<bool, StoreError> {
        let found = self
            .column("SELECT id FROM reserved_addrs WHERE addr = $1", &[addr])
            .await?;
        Ok(!found.is_empty())
    }
}
