//! Building families whose names and labels are constants of this crate. Prometheus' client
//! refuses only malformed names, label names or buckets, which the unit tests would show on
//! the first scrape; hence the `expect`s.
#![allow(
    clippy::expect_used,
    reason = "names, labels and buckets are constants of this crate, checked by its tests"
)]

use prometheus::core::Collector;
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts,
};

pub(crate) fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("a valid counter")
}

/// A counter by `labels`, with a child for each of `known` (one value per label) made at
/// once: a family shows in a scrape only once it has a child, and a dashboard or an alert
/// should find 0 rather than nothing.
pub(crate) fn counter_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    known: &[Vec<&str>],
) -> IntCounterVec {
    let v = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter family");
    for values in known {
        v.with_label_values(values);
    }
    v
}

pub(crate) fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("a valid gauge")
}

pub(crate) fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("a valid histogram")
}

pub(crate) fn histogram_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("a valid histogram family")
}

/// One child per value of a one-label family.
pub(crate) fn each(values: &[&'static str]) -> Vec<Vec<&'static str>> {
    values.iter().map(|v| vec![*v]).collect()
}

/// One child per protocol and direction of a `bytes` family.
pub(crate) fn both_ways(protos: &[&'static str]) -> Vec<Vec<&'static str>> {
    protos
        .iter()
        .flat_map(|p| [vec![*p, crate::IN], vec![*p, crate::OUT]])
        .collect()
}

/// A gauge family made for one scrape from `rows` (label values, value).
pub(crate) fn gauges(
    name: &str,
    help: &str,
    labels: &[&str],
    rows: impl IntoIterator<Item = (Vec<String>, f64)>,
) -> Box<dyn Collector> {
    let v = GaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge family");
    for (values, value) in rows {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        if let Ok(g) = v.get_metric_with_label_values(&values) {
            g.set(value);
        }
    }
    Box::new(v)
}

/// `ferry_build_info{role, version} 1`, Prometheus' usual way to show what runs.
pub(crate) fn build_info(role: &str) -> Box<dyn Collector> {
    let v = IntGaugeVec::new(
        Opts::new(
            "ferry_build_info",
            "Always 1: the role (edge or agent) and version of this process.",
        ),
        &["role", "version"],
    )
    .expect("a valid gauge family");
    v.with_label_values(&[role, env!("CARGO_PKG_VERSION")])
        .set(1);
    Box::new(v)
}

/// Latency buckets in seconds from 1 ms to 30 s: a proxied request, a heartbeat.
pub(crate) const LATENCY: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets for database queries, from 100 µs (SQLite in the page cache) to 5 s (a server
/// that stalls).
pub(crate) const QUERY: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
