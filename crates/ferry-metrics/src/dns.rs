//! The DNS server's family (`ferry_dns_...`).

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::IntCounterVec;

use crate::family::{counter_vec, each};

/// `ferry_dns_queries_total{rcode}`: queries answered, by response code (`NOERROR`,
/// `NXDOMAIN`, `REFUSED`...); a query with no answer at all (a packet that is not DNS) is
/// not counted.
static QUERIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "ferry_dns_queries_total",
        "DNS queries answered, by response code.",
        &["rcode"],
        &each(&["NOERROR", "NXDOMAIN", "REFUSED"]),
    )
});

/// Counts a query answered with `rcode`, as DNS names it (`NOERROR`, `REFUSED`).
pub fn query_answered(rcode: &str) {
    QUERIES.with_label_values(&[rcode]).inc();
}

pub(crate) fn families() -> Vec<Box<dyn Collector>> {
    vec![Box::new(QUERIES.clone())]
}
