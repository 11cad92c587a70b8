//! The seam between Check Status and DNS: one lookup of one type at one name, answered in
//! the terms the verdicts need. The edge uses [`crate::HickoryLookups`]; tests feed answers.

use std::future::Future;
use std::pin::Pin;

/// The record types Check Status asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The record a reserved domain's two names must have.
    Cname,
    /// Asked when no CNAME is there, to name an address record standing in its place.
    A,
    /// Asked with [`Kind::A`].
    Aaaa,
    /// An agent ingress's delegation.
    Ns,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Records of the type asked: names lower case without the final dot, or addresses.
    Found(Vec<String>),
    /// The name does not exist (NXDOMAIN).
    NoName,
    /// The name exists without records of that type (NODATA).
    NoData,
    /// The resolver gave no usable answer (unreachable, no answer in time, SERVFAIL,
    /// REFUSED), in words for the person reading the check.
    Failed(String),
}

/// The answer to one [`Lookups::lookup`].
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Looks records up now, with nothing remembered from an earlier check: a customer who has
/// just created a record must see it at the next Check Status.
pub trait Lookups: Send + Sync + 'static {
    /// The records of `kind` at `name` (lower case, no final dot); bounded in time, a
    /// failure is [`Answer::Failed`].
    fn lookup<'a>(&'a self, name: &'a str, kind: Kind) -> LookupFuture<'a>;
}
