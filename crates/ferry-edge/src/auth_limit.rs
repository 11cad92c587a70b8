use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failed authentications per source address in one-minute windows, so that guessing
/// authtokens from one address is slow.
pub struct AuthLimiter {
    per_minute: u32,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

/// IPv6 clients are counted per /64, the block one host usually holds, so cycling through
/// addresses does not reset the count.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(bits.into())
        }
    }
}

impl AuthLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let ip = bucket(ip);
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ip)
            .is_some_and(|(start, n)| start.elapsed() < WINDOW && *n >= self.per_minute)
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let ip = bucket(ip);
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_TRACKED {
            map.retain(|_, (start, _)| start.elapsed() < WINDOW);
            if map.len() > MAX_TRACKED {
                // Under a flood from more sources than this can track, forget them all rather
                // than grow without bound.
                map.clear();
            }
        }
        let entry = map.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit() {
        let l = AuthLimiter::new(3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(!l.is_blocked(ip));
            l.record_failure(ip);
        }
        assert!(l.is_blocked(ip));
        assert!(!l.is_blocked([10, 0, 0, 2].into()));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = AuthLimiter::new(2);
        l.record_failure("2001:db8::1".parse().unwrap());
        l.record_failure("2001:db8::2".parse().unwrap());
        assert!(l.is_blocked("2001:db8::ffff".parse().unwrap()));
        assert!(!l.is_blocked("2001:db8:0:1::1".parse().unwrap()));
    }
}
