//! Summaries: the median and spread of repeated figures, and latency percentiles.

/// Several runs of one figure.
#[derive(Clone, Debug, Default)]
pub struct Runs(pub Vec<f64>);

impl Runs {
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        if v.is_empty() {
            return None;
        }
        let mid = v.len() / 2;
        Some(if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        })
    }

    /// Smallest and largest run.
    pub fn spread(&self) -> Option<(f64, f64)> {
        let v = self.sorted();
        Some((*v.first()?, *v.last()?))
    }
}

/// The `p`-th percentile (0..=100) of latencies, nearest-rank.
pub fn percentile(latencies: &mut [u32], p: f64) -> Option<u32> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
    Some(latencies[rank.clamp(1, latencies.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let r = Runs(vec![3.0, 1.0, 2.0]);
        assert_eq!(r.median(), Some(2.0));
        assert_eq!(r.spread(), Some((1.0, 3.0)));
        assert_eq!(Runs(vec![1.0, 4.0]).median(), Some(2.5));
        assert_eq!(Runs::default().median(), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut v, 50.0), Some(50));
        assert_eq!(percentile(&mut v, 99.0), Some(99));
        assert_eq!(percentile(&mut v, 100.0), Some(100));
        assert_eq!(percentile(&mut [], 50.0), None);
    }
}
