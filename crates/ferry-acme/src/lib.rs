//! Ferry's certificates: which certificate each name is served ([`table`], a pure function),
//! loading them from the store, and the rustls resolvers the edge's TLS ports use
//! ([`resolver`]). Uploaded certificates attached to a reserved domain come first, then the
//! managed ones; the installation's CA covers dev mode and the agent ingress.
#![warn(missing_docs)]

pub mod acme;
pub mod challenge;
mod dev;
pub mod load;
pub mod preflight;
pub mod resolver;
pub mod runner;
pub mod schedule;
pub mod table;

pub use acme::{AcmeConfig, AcmeIssuer, Publish};
pub use challenge::SingleNames;
pub use dev::DevIssuer;
pub use load::{certified_key, UnusableCertificate};
pub use resolver::{CertResolver, Certs, ACME_TLS_ALPN};
pub use runner::{Issued, Issuer, Runner};
pub use table::{CertTable, Source};
