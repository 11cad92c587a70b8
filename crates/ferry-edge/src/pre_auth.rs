//! Admission of agent connections that have not authenticated yet.
//!
//! Anyone on the internet can open a TLS connection to the agent ingress and hold it until
//! the auth deadline. Each such connection costs buffers (TLS, the session's read buffer,
//! the windows of its first streams), so the edge bounds how many it holds: per source
//! address, so one host cannot take them all, and in total. A connection gives its place
//! back the moment it authenticates, or when it closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::auth_limit::bucket;

/// Counts connections that have not authenticated, per source address and in total.
pub struct PreAuthGate {
    per_source: usize,
    total: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Source { limit: usize },
    Total { limit: usize },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Source { limit } => write!(
                f,
                "{limit} connections from this address are already waiting to authenticate"
            ),
            Refused::Total { limit } => {
                write!(f, "{limit} connections are already waiting to authenticate")
            }
        }
    }
}

/// One admitted connection's place; dropping it frees the place.
pub struct Ticket {
    gate: Arc<PreAuthGate>,
    source: IpAddr,
}

impl PreAuthGate {
    pub fn new(per_source: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_source,
            total,
            held: Mutex::new(Held::default()),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refused> {
        let source = bucket(ip);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.total >= self.total {
            return Err(Refused::Total { limit: self.total });
        }
        let n = held.by_source.entry(source).or_insert(0);
        if *n >= self.per_source {
            return Err(Refused::Source {
                limit: self.per_source,
            });
        }
        *n += 1;
        held.total += 1;
        Ok(Ticket {
            gate: self.clone(),
            source,
        })
    }

    /// Connections waiting to authenticate now.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self.gate.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                held.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_each_source_and_the_total_and_frees_on_drop() {
        let gate = PreAuthGate::new(2, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = gate.admit(a).expect("first");
        let _a2 = gate.admit(a).expect("second");
        assert_eq!(gate.admit(a).err(), Some(Refused::Source { limit: 2 }));
        let _b1 = gate.admit(b).expect("other source");
        assert_eq!(gate.admit(b).err(), Some(Refused::Total { limit: 3 }));
        drop(a1);
        assert_eq!(gate.waiting(), 2);
        let _a3 = gate.admit(a).expect("a place was freed");
    }

    #[test]
    fn ipv6_sources_share_their_64() {
        let gate = PreAuthGate::new(1, 10);
        let _t = gate
            .admit("2001:db8::1".parse().expect("ip"))
            .expect("first");
        assert!(gate.admit("2001:db8::2".parse().expect("ip")).is_err());
        assert!(gate.admit("2001:db8:0:1::1".parse().expect("ip")).is_ok());
    }
}
