//! The vocabulary every Ferry crate shares. Nothing here does I/O, so it is safe to use from
//! sans-IO protocol code, the store and the binaries alike.
#![warn(missing_docs)]

pub mod acl;
mod error_code;
pub mod error_page;
mod host;
mod id;
mod json_mistake;
mod nearest;
mod secret;
mod tunnel_id;

pub use error_code::ErrorCode;
pub use host::{HostError, HostPattern, Hostname};
pub use id::{IdError, ResourceId, ID_PREFIXES};
pub use json_mistake::JsonMistake;
pub use nearest::nearest;
pub use secret::Secret;
pub use tunnel_id::{TunnelId, TunnelIdError, MAX_TUNNEL_ID_LEN};
