//! Keeps authtoken guessing slow without ever locking out an agent whose token is good.
//!
//! Two things are tracked. Tokens the store refused are remembered for a while by their
//! SHA-256, so an agent that retries a revoked token (every agent retries forever) is
//! refused again at once, without a lookup and without counting against its address. And
//! lookups that failed are counted per source address; past the limit the edge still looks
//! a token up, but only after a delay. A site behind one NAT address, with some agents on a
//! revoked token, never keeps a good token out: a good token is always looked up, and the
//! revoked ones stop costing lookups after their first refusal.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

/// How long a refused token is refused without a lookup. Short, because a token can become
/// good again: a deactivated bot user's tokens work once it is reactivated.
const REMEMBER_REFUSED: Duration = Duration::from_secs(60);

/// The wait before a lookup for an address past its failure limit.
const SLOW_LOOKUP: Duration = Duration::from_secs(1);

/// IPv6 clients are counted per /64, the block one host usually holds, so cycling through
/// addresses does not reset the count.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(bits.into())
        }
    }
}

type Fingerprint = [u8; 32];

fn fingerprint(token: &str) -> Fingerprint {
    Sha256::digest(token.as_bytes()).into()
}

/// What to do with an Auth before the store is asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Look the token up now.
    Lookup,
    /// Look it up after waiting this long: the address has failed too often.
    LookupAfter(Duration),
    /// The store refused this very token moments ago; refuse it again without asking.
    RefusedRecently { ago: Duration },
}

pub struct AuthLimiter {
    per_minute: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: HashMap<IpAddr, (Instant, u32)>,
    refused: HashMap<Fingerprint, Instant>,
}

/// Forgets expired entries when a map grows past its bound; under a flood from more sources
/// (or tokens) than it can track, forgets them all rather than grow without bound.
fn bound<K, V>(map: &mut HashMap<K, V>, fresh: impl Fn(&V) -> bool) {
    if map.len() > MAX_TRACKED {
        map.retain(|_, v| fresh(v));
        if map.len() > MAX_TRACKED {
            map.clear();
        }
    }
}

impl AuthLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn verdict(&self, ip: IpAddr, token: &str) -> Verdict {
        let fp = fingerprint(token);
        let state = self.state();
        if let Some(at) = state.refused.get(&fp) {
            let ago = at.elapsed();
            if ago < REMEMBER_REFUSED {
                return Verdict::RefusedRecently { ago };
            }
        }
        let over = state
            .failures
            .get(&bucket(ip))
            .is_some_and(|(start, n)| start.elapsed() < WINDOW && *n >= self.per_minute);
        if over {
            Verdict::LookupAfter(SLOW_LOOKUP)
        } else {
            Verdict::Lookup
        }
    }

    /// The store refused `token` from `ip`.
    pub fn record_failure(&self, ip: IpAddr, token: &str) {
        let mut state = self.state();
        bound(&mut state.failures, |(start, _)| start.elapsed() < WINDOW);
        let entry = state
            .failures
            .entry(bucket(ip))
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
        if !token.is_empty() {
            bound(&mut state.refused, |at| at.elapsed() < REMEMBER_REFUSED);
            state.refused.insert(fingerprint(token), Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_token_is_looked_up_even_from_a_failing_address() {
        let l = AuthLimiter::new(3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        for i in 0..3 {
            assert_eq!(l.verdict(ip, &format!("guess{i}")), Verdict::Lookup);
            l.record_failure(ip, &format!("guess{i}"));
        }
        assert_eq!(l.verdict(ip, "good"), Verdict::LookupAfter(SLOW_LOOKUP));
        assert_eq!(l.verdict([10, 0, 0, 2].into(), "good"), Verdict::Lookup);
    }

    #[test]
    fn a_refused_token_is_refused_again_without_a_lookup_or_a_count() {
        let l = AuthLimiter::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        l.record_failure(ip, "revoked");
        for _ in 0..100 {
            assert!(matches!(
                l.verdict(ip, "revoked"),
                Verdict::RefusedRecently { .. }
            ));
        }
        // Retries of the known token cost the address nothing.
        assert_eq!(l.verdict(ip, "good"), Verdict::Lookup);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = AuthLimiter::new(2);
        l.record_failure("2001:db8::1".parse().expect("ip"), "a");
        l.record_failure("2001:db8::2".parse().expect("ip"), "b");
        assert_eq!(
            l.verdict("2001:db8::ffff".parse().expect("ip"), "c"),
            Verdict::LookupAfter(SLOW_LOOKUP)
        );
        assert_eq!(
            l.verdict("2001:db8:0:1::1".parse().expect("ip"), "c"),
            Verdict::Lookup
        );
    }
}
