//! Per-tunnel figures for the agent API, shaped as ngrok reports them: counts, a gauge of open
//! connections, exponentially weighted rates over 1, 5 and 15 minutes (per second, ticked every
//! 5 s like the metrics library ngrok's agent uses), and duration percentiles in nanoseconds
//! over the most recent samples.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TICK: Duration = Duration::from_secs(5);
const RESERVOIR: usize = 1028;

#[derive(Default)]
pub struct TunnelMetrics {
    conns: Mutex<Meter>,
    http: Mutex<Meter>,
}

struct Meter {
    count: u64,
    gauge: i64,
    uncounted: u64,
    rates: [f64; 3],
    initialised: bool,
    last_tick: Instant,
    samples: VecDeque<u64>,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            count: 0,
            gauge: 0,
            uncounted: 0,
            rates: [0.0; 3],
            initialised: false,
            last_tick: Instant::now(),
            samples: VecDeque::with_capacity(RESERVOIR),
        }
    }
}

impl Meter {
    fn catch_up(&mut self) {
        while self.last_tick.elapsed() >= TICK {
            let instant = self.uncounted as f64 / TICK.as_secs_f64();
            self.uncounted = 0;
            for (rate, minutes) in self.rates.iter_mut().zip([1.0f64, 5.0, 15.0]) {
                let alpha = 1.0 - (-TICK.as_secs_f64() / 60.0 / minutes).exp();
                if self.initialised {
                    *rate += alpha * (instant - *rate);
                } else {
                    *rate = instant;
                }
            }
            self.initialised = true;
            self.last_tick += TICK;
        }
    }

    fn mark(&mut self) {
        self.catch_up();
        self.count += 1;
        self.uncounted += 1;
    }

    fn record(&mut self, d: Duration) {
        if self.samples.len() == RESERVOIR {
            self.samples.pop_front();
        }
        self.samples.push_back(d.as_nanos() as u64);
    }

    fn snapshot(&mut self, with_gauge: bool) -> Value {
        self.catch_up();
        let mut sorted: Vec<u64> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let pct = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[idx] as f64
        };
        let mut v = json!({
            "count": self.count,
            "rate1": self.rates[0],
            "rate5": self.rates[1],
            "rate15": self.rates[2],
            "p50": pct(0.50),
            "p90": pct(0.90),
            "p95": pct(0.95),
            "p99": pct(0.99),
        });
        if with_gauge {
            v["gauge"] = json!(self.gauge);
        }
        v
    }
}

fn lock(m: &Mutex<Meter>) -> std::sync::MutexGuard<'_, Meter> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TunnelMetrics {
    /// A connection opened; the returned guard records its duration when dropped.
    pub fn conn_opened(&self) -> ConnGuard<'_> {
        let mut m = lock(&self.conns);
        m.mark();
        m.gauge += 1;
        ConnGuard {
            metrics: self,
            start: Instant::now(),
        }
    }

    pub fn http_request(&self, took: Duration) {
        let mut m = lock(&self.http);
        m.mark();
        m.record(took);
    }

    pub fn to_json(&self) -> Value {
        json!({
            "conns": lock(&self.conns).snapshot(true),
            "http": lock(&self.http).snapshot(false),
        })
    }
}

pub struct ConnGuard<'a> {
    metrics: &'a TunnelMetrics,
    start: Instant,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        let mut m = lock(&self.metrics.conns);
        m.gauge -= 1;
        m.record(self.start.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gauge_and_percentiles() {
        let m = TunnelMetrics::default();
        {
            let _a = m.conn_opened();
            let _b = m.conn_opened();
            assert_eq!(m.to_json()["conns"]["gauge"], 2);
        }
        let v = m.to_json();
        assert_eq!(v["conns"]["count"], 2);
        assert_eq!(v["conns"]["gauge"], 0);
        for ms in 1..=100 {
            m.http_request(Duration::from_millis(ms));
        }
        let h = &m.to_json()["http"];
        assert_eq!(h["count"], 100);
        assert_eq!(h["p50"], 50_000_000.0);
        assert_eq!(h["p99"], 99_000_000.0);
        assert!(h.get("gauge").is_none());
    }

    #[test]
    fn rates_follow_ticks() {
        let mut meter = Meter {
            last_tick: Instant::now() - TICK * 2,
            ..Default::default()
        };
        for _ in 0..50 {
            meter.count += 1;
            meter.uncounted += 1;
        }
        meter.catch_up();
        assert!(meter.rates[0] > 0.0, "{:?}", meter.rates);
        assert_eq!(meter.uncounted, 0);
    }
}
