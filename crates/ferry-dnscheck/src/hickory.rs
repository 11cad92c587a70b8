//! [`Lookups`] through hickory-resolver: exactly one name server (`--dns-check-resolver`) or
//! the system's from /etc/resolv.conf, UDP with TCP on truncation or failure, and a resolver
//! built for each lookup so no cache outlives it.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::lookup::{Answer, Kind, LookupFuture, Lookups};

/// How long one lookup may take, every retry and transport included.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Check Status's lookups through a real resolver.
#[derive(Clone, Debug)]
pub struct HickoryLookups {
    server: Option<SocketAddr>,
}

impl HickoryLookups {
    /// Asks `server` only, or with `None` the name servers of /etc/resolv.conf.
    pub fn new(server: Option<SocketAddr>) -> Self {
        Self { server }
    }

    fn resolver(&self) -> Result<TokioResolver, String> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match self.server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    provider,
                )
            }
            None => TokioResolver::builder(provider).map_err(|e| {
                format!("the system's resolver is unusable (/etc/resolv.conf): {e}")
            })?,
        };
        let opts = builder.options_mut();
        opts.timeout = Duration::from_millis(1500);
        opts.attempts = 1;
        opts.try_tcp_on_error = true;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.preserve_intermediates = true;
        builder
            .build()
            .map_err(|e| format!("cannot set up the resolver: {e}"))
    }

    async fn ask(&self, name: &str, kind: Kind) -> Answer {
        let resolver = match self.resolver() {
            Ok(r) => r,
            Err(why) => return Answer::Failed(why),
        };
        let Ok(fqdn) = Name::from_ascii(format!("{name}.")) else {
            return Answer::Failed(format!("{name:?} is not a DNS name"));
        };
        let rtype = match kind {
            Kind::Cname => RecordType::CNAME,
            Kind::A => RecordType::A,
            Kind::Aaaa => RecordType::AAAA,
            Kind::Ns => RecordType::NS,
        };
        let wanted = |data: &RData| match (kind, data) {
            (Kind::Cname, RData::CNAME(n)) => Some(crate::normalize(&n.0.to_ascii())),
            (Kind::Ns, RData::NS(n)) => Some(crate::normalize(&n.0.to_ascii())),
            (Kind::A, RData::A(a)) => Some(a.0.to_string()),
            (Kind::Aaaa, RData::AAAA(a)) => Some(a.0.to_string()),
            _ => None,
        };
        let asked = fqdn.to_lowercase();
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, resolver.lookup(fqdn, rtype)).await;
        let Ok(result) = lookup else {
            return Answer::Failed(format!(
                "{} did not answer within {} s",
                self.describe(),
                LOOKUP_TIMEOUT.as_secs()
            ));
        };
        match result {
            Ok(found) => {
                let found: Vec<String> = found
                    .answers()
                    .iter()
                    .filter(|r| r.name.to_lowercase() == asked)
                    .filter_map(|r| wanted(&r.data))
                    .collect();
                if found.is_empty() {
                    Answer::NoData
                } else {
                    Answer::Found(found)
                }
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) => {
                // Asked for NS, the parent zone's own server answers with a referral: the
                // delegation is in the authority section, not the answer.
                let referral: Vec<String> = none
                    .ns
                    .iter()
                    .flat_map(|ns| ns.iter())
                    .filter(|f| kind == Kind::Ns && f.ns.name.to_lowercase() == asked)
                    .filter_map(|f| wanted(&f.ns.data))
                    .collect();
                if !referral.is_empty() {
                    Answer::Found(referral)
                } else if none.response_code == ResponseCode::NXDomain {
                    Answer::NoName
                } else {
                    Answer::NoData
                }
            }
            Err(NetError::Dns(DnsError::ResponseCode(code))) => {
                Answer::Failed(format!("{} answered {code}", self.describe()))
            }
            Err(NetError::Timeout) => {
                Answer::Failed(format!("{} did not answer in time", self.describe()))
            }
            Err(e) => Answer::Failed(format!("{}: {e}", self.describe())),
        }
    }

    fn describe(&self) -> String {
        match self.server {
            Some(addr) => format!("the resolver {addr}"),
            None => "the system's resolver".into(),
        }
    }
}

impl Lookups for HickoryLookups {
    fn lookup<'a>(&'a self, name: &'a str, kind: Kind) -> LookupFuture<'a> {
        Box::pin(self.ask(name, kind))
    }
}
