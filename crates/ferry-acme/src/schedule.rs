//! When a certificate job runs next, as a function of how its last attempt ended and the
//! time now: no clock is read here, so the back-off and renewal rules are tested alone.
//!
//! - Records missing at the customer's DNS (`DNS_ERROR`): they are usually being created
//!   right now, so the job looks again every 10 s for its first three minutes, then backs off
//!   to at most ten minutes. Nothing is asked of the CA meanwhile, so no validation is spent.
//! - The CA failed or refused (`INTERNAL_ERROR`): certmagic's schedule (1, 2, 2, 5, 10, 20,
//!   30 minutes, then hourly, up to 6 h), never sooner than the CA's `Retry-After`.
//! - Issued: renewal inside the window the CA suggests through ACME Renewal Information
//!   (RFC 9773) where it offers one, else at two thirds of the certificate's lifetime, as
//!   Let's Encrypt advises; either way at a random point (`jitter`), so that certificates
//!   issued together do not all renew in the same minute.

use std::time::Duration;

use time::OffsetDateTime;

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// A certificate was issued, valid over this period.
    Issued {
        /// Its `notBefore`.
        not_before: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
        /// The renewal window the CA suggested (ARI), when it offers one.
        window: Option<(OffsetDateTime, OffsetDateTime)>,
        /// Where in the window (or around two thirds of the lifetime) renewal falls:
        /// `0..=u16::MAX` from the start to the end.
        jitter: u16,
    },
    /// The pre-flight found the customer's records missing or wrong; `msg` names the record.
    DnsMissing {
        /// What is missing, for `provisioning_job.msg`.
        msg: String,
    },
    /// The CA failed, refused or could not be reached.
    CaFailed {
        /// What went wrong, for `provisioning_job.msg`.
        msg: String,
        /// The CA's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
    },
}

/// Where a job stands after an attempt: what its row records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Next {
    /// `provisioning_job.error_code`: `None` once issued.
    pub error_code: Option<&'static str>,
    /// `provisioning_job.msg`.
    pub msg: String,
    /// When the job runs next: the retry, or the renewal.
    pub runs_at: OffsetDateTime,
    /// Failed attempts in a row, counting this one (0 once issued).
    pub attempts: i64,
    /// The renewal time, once issued.
    pub renews_at: Option<OffsetDateTime>,
}

/// ngrok's `provisioning_job.error_code` for records missing at the customer's DNS.
pub const DNS_ERROR: &str = "DNS_ERROR";
/// ngrok's `provisioning_job.error_code` for everything else.
pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";

/// Checks every 10 s while the job is this young.
const FAST_DNS_CHECKS_FOR: Duration = Duration::from_secs(180);
const DNS_FIRST: Duration = Duration::from_secs(10);
const DNS_MAX: Duration = Duration::from_secs(600);
const CA_STEPS_MINUTES: &[u64] = &[1, 2, 2, 5, 10, 20, 30, 60];
const CA_MAX: Duration = Duration::from_secs(6 * 3600);

/// The job's next step after `attempt`, `failures_before` failed attempts in a row, started
/// at `started`.
pub fn after(
    attempt: &Attempt,
    failures_before: i64,
    started: OffsetDateTime,
    now: OffsetDateTime,
) -> Next {
    let attempts = failures_before.saturating_add(1);
    match attempt {
        Attempt::Issued {
            not_before,
            not_after,
            window,
            jitter,
        } => {
            let at = f64::from(*jitter) / f64::from(u16::MAX);
            let lifetime = (*not_after - *not_before).max(time::Duration::ZERO);
            let renews_at = match window {
                Some((start, end)) if end > start => *start + (*end - *start) * at,
                // Two thirds, give or take a sixtieth of the lifetime (1.5 days of 90).
                _ => *not_before + lifetime * 2 / 3 + lifetime / 30 * (at - 0.5),
            };
            Next {
                error_code: None,
                msg: String::new(),
                runs_at: renews_at,
                attempts: 0,
                renews_at: Some(renews_at),
            }
        }
        Attempt::DnsMissing { msg } => {
            let young = now - started < FAST_DNS_CHECKS_FOR;
            let delay = if young {
                DNS_FIRST
            } else {
                let slow = attempts.saturating_sub(fast_checks()).clamp(0, 16) as u32;
                DNS_FIRST.saturating_mul(1 << slow.min(10)).min(DNS_MAX)
            };
            Next {
                error_code: Some(DNS_ERROR),
                msg: msg.clone(),
                runs_at: now + delay,
                attempts,
                renews_at: None,
            }
        }
        Attempt::CaFailed { msg, retry_after } => {
            let step = usize::try_from(failures_before.max(0)).unwrap_or(usize::MAX);
            let minutes = CA_STEPS_MINUTES
                .get(step)
                .copied()
                .unwrap_or(60 * (step as u64).saturating_sub(6));
            let delay = Duration::from_secs(minutes.saturating_mul(60))
                .min(CA_MAX)
                .max(retry_after.unwrap_or_default());
            Next {
                error_code: Some(INTERNAL_ERROR),
                msg: msg.clone(),
                runs_at: now + delay,
                attempts,
                renews_at: None,
            }
        }
    }
}

/// Let's Encrypt's limit on new certificates per registered domain: 50 in any 7 days.
pub const ORDERS_PER_WEEK: usize = 50;
/// The window [`ORDERS_PER_WEEK`] counts over.
pub const ORDER_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// When the next order for a registered domain may be placed, given when the orders for it
/// were placed: `None` while fewer than [`ORDERS_PER_WEEK`] fall in the last
/// [`ORDER_WINDOW`], else the moment the oldest that counts leaves it. The guides put many
/// customers' wildcards under one domain, so this is the limit such an installation meets.
pub fn paced_until(placed: &[OffsetDateTime], now: OffsetDateTime) -> Option<OffsetDateTime> {
    let mut recent: Vec<OffsetDateTime> = placed
        .iter()
        .copied()
        .filter(|t| *t > now - ORDER_WINDOW)
        .collect();
    if recent.len() < ORDERS_PER_WEEK {
        return None;
    }
    recent.sort();
    Some(recent[recent.len() - ORDERS_PER_WEEK] + ORDER_WINDOW)
}

/// How many 10 s checks fit in the fast period: the slow back-off starts counting after them.
fn fast_checks() -> i64 {
    (FAST_DNS_CHECKS_FOR.as_secs() / DNS_FIRST.as_secs()) as i64
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-12-02 10:00 UTC);

    #[test]
    fn orders_are_paced_at_fifty_a_week_per_registered_domain() {
        let hour = Duration::from_secs(3600);
        let placed: Vec<OffsetDateTime> = (0..49).map(|i| T0 - hour * i).collect();
        assert_eq!(paced_until(&placed, T0), None);
        let mut full = placed.clone();
        full.push(T0 - ORDER_WINDOW - hour); // outside the window: not counted
        assert_eq!(paced_until(&full, T0), None);
        full.push(T0);
        // The oldest of the fifty counted (48 hours ago) leaves the window first.
        assert_eq!(paced_until(&full, T0), Some(T0 - hour * 48 + ORDER_WINDOW));
    }

    fn dns() -> Attempt {
        Attempt::DnsMissing {
            msg: "no CNAME at _acme-challenge.c1.example.com".into(),
        }
    }

    #[test]
    fn missing_records_are_checked_every_ten_seconds_at_first_then_less_often() {
        let now = T0 + Duration::from_secs(170);
        let n = after(&dns(), 16, T0, now);
        assert_eq!(n.runs_at - now, Duration::from_secs(10));
        assert_eq!(n.error_code, Some(DNS_ERROR));
        assert_eq!(n.attempts, 17);

        let later = T0 + Duration::from_secs(400);
        let a = after(&dns(), 20, T0, later).runs_at - later;
        let b = after(&dns(), 21, T0, later).runs_at - later;
        assert!(a > Duration::from_secs(10) && b > a, "{a} {b}");
        let much_later = T0 + Duration::from_secs(86_400);
        assert_eq!(
            after(&dns(), 500, T0, much_later).runs_at - much_later,
            Duration::from_secs(600)
        );
    }

    #[test]
    fn ca_failures_back_off_and_respect_retry_after() {
        let ca = |retry_after| Attempt::CaFailed {
            msg: "rate limited".into(),
            retry_after,
        };
        let delays: Vec<_> = (0..12)
            .map(|k| after(&ca(None), k, T0, T0).runs_at - T0)
            .collect();
        assert_eq!(delays[0], Duration::from_secs(60));
        assert_eq!(delays[3], Duration::from_secs(300));
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(
            after(&ca(None), 1000, T0, T0).runs_at - T0,
            Duration::from_secs(6 * 3600)
        );
        let n = after(&ca(Some(Duration::from_secs(7200))), 0, T0, T0);
        assert_eq!(n.runs_at - T0, Duration::from_secs(7200));
        assert_eq!(n.error_code, Some(INTERNAL_ERROR));
    }

    fn issued(window: Option<(OffsetDateTime, OffsetDateTime)>, jitter: u16) -> Next {
        let attempt = Attempt::Issued {
            not_before: T0,
            not_after: T0 + Duration::from_secs(90 * 86_400),
            window,
            jitter,
        };
        after(&attempt, 3, T0, T0)
    }

    #[test]
    fn an_issued_certificate_renews_around_two_thirds_of_its_life() {
        let day = Duration::from_secs(86_400);
        let middle = issued(None, u16::MAX / 2 + 1);
        let gap = (middle.renews_at.unwrap() - (T0 + day * 60)).abs();
        assert!(gap < time::Duration::seconds(60), "{gap}");
        assert_eq!(middle.runs_at, middle.renews_at.unwrap());
        assert_eq!((middle.attempts, middle.error_code), (0, None));
        let (early, late) = (issued(None, 0), issued(None, u16::MAX));
        assert_eq!(early.renews_at, Some(T0 + day * 60 - day * 3 / 2));
        assert_eq!(late.renews_at, Some(T0 + day * 60 + day * 3 / 2));
    }

    #[test]
    fn a_suggested_window_wins_over_two_thirds() {
        let day = Duration::from_secs(86_400);
        let window = Some((T0 + day * 10, T0 + day * 12));
        assert_eq!(issued(window, 0).renews_at, Some(T0 + day * 10));
        assert_eq!(issued(window, u16::MAX).renews_at, Some(T0 + day * 12));
        // A window that ends before it starts is ignored.
        let backwards = Some((T0 + day * 12, T0 + day * 10));
        assert!(issued(backwards, 0).renews_at.unwrap() > T0 + day * 50);
    }
}
