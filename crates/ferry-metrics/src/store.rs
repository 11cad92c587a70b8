//! The store's family (`ferry_store_...`).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::HistogramVec;

use crate::family::{histogram_vec, QUERY};

/// The statements counted apart; anything else (a `PRAGMA`, a `WITH`) is `other`.
const OPS: [&str; 5] = ["select", "insert", "update", "delete", "other"];

static QUERIES: LazyLock<HistogramVec> = LazyLock::new(|| {
    let v = histogram_vec(
        "ferry_store_query_duration_seconds",
        "Time the database took to answer a query, by kind of statement.",
        &["op"],
        QUERY,
    );
    for op in OPS {
        v.with_label_values(&[op]);
    }
    v
});

/// Records a query of `sql` that took `took`: its kind is its first word.
pub fn query_done(sql: &str, took: Duration) {
    let first = sql.split_whitespace().next().unwrap_or("");
    let op = OPS
        .iter()
        .find(|op| first.eq_ignore_ascii_case(op))
        .copied()
        .unwrap_or("other");
    QUERIES.with_label_values(&[op]).observe(took.as_secs_f64());
}

pub(crate) fn families() -> Vec<Box<dyn Collector>> {
    vec![Box::new(QUERIES.clone())]
}
