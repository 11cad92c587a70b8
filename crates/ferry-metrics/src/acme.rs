//! The certificate jobs' families (`ferry_acme_...`).

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{IntCounter, IntCounterVec};

use crate::family::{counter, counter_vec, each};

static ORDERS: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "ferry_acme_orders_total",
        "Certificate attempts made by the certificate jobs (an ACME order, or the dev CA).",
    )
});

static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "ferry_acme_order_failures_total",
        "Certificate attempts that failed, by ngrok's provisioning error code.",
        &["error_code"],
        &each(&["DNS_ERROR", "INTERNAL_ERROR"]),
    )
});

/// Counts one attempt at a certificate.
pub fn order_started() {
    ORDERS.inc();
}

/// Counts an attempt that failed with `error_code` (`DNS_ERROR`, `INTERNAL_ERROR`).
pub fn order_failed(error_code: &str) {
    FAILURES.with_label_values(&[error_code]).inc();
}

pub(crate) fn families() -> Vec<Box<dyn Collector>> {
    vec![Box::new(ORDERS.clone()), Box::new(FAILURES.clone())]
}
