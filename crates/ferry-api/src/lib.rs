//! What a REST request body may hold and how it is read, apart from the control plane that
//! acts on it: the fuzz targets decode the very types the handlers do without building the
//! store (sqlx) the handlers need.
#![warn(missing_docs)]

pub mod body;
pub mod requests;

pub use body::{parse, Refused};
