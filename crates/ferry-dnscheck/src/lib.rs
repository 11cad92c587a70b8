//! Check Status: the DNS records a customer must create for a reserved domain (its CNAME,
//! its `_acme-challenge` CNAME) or an agent ingress (its NS delegation), looked up now
//! through one resolver and judged, with the usual mistakes named (missing, pointing
//! elsewhere, an address where a CNAME belongs, the zone suffix doubled, an NS set that
//! differs). [`verdict`] is the pure judgement; [`check`] gathers what it needs through
//! [`Lookups`], which [`HickoryLookups`] implements with a real resolver. The REST API's
//! `dns_check` routes use it, as will the pre-flight before an ACME order.
#![warn(missing_docs)]

mod hickory;
pub mod lookup;
pub mod verdict;

use rand::Rng;

pub use hickory::{HickoryLookups, LOOKUP_TIMEOUT};
pub use lookup::{Answer, Kind, LookupFuture, Lookups};
pub use verdict::{judge, normalize, Expectation, Observation, Problem, Purpose, Verdict, Want};

/// Looks every expected record up, each on its own, and judges it.
pub async fn check(lookups: &dyn Lookups, expectations: Vec<Expectation>) -> Vec<Verdict> {
    futures::future::join_all(expectations.into_iter().map(|e| async move {
        let seen = observe(lookups, &e).await;
        judge(e, seen)
    }))
    .await
}

/// The lookups one record needs: the wanted type, then, only when a CNAME is absent, the
/// addresses at the name and the name under each zone doubled.
async fn observe(lookups: &dyn Lookups, e: &Expectation) -> Observation {
    let kind = match e.want {
        Want::Cname { .. } => Kind::Cname,
        Want::Ns { .. } => Kind::Ns,
    };
    let answer = lookups.lookup(&e.query, kind).await;
    let absent = matches!(answer, Answer::NoName | Answer::NoData);
    if kind != Kind::Cname || !absent {
        return Observation::answer(answer);
    }
    let (a, aaaa) = futures::join!(
        lookups.lookup(&e.query, Kind::A),
        lookups.lookup(&e.query, Kind::Aaaa)
    );
    let addresses: Vec<String> = [a, aaaa]
        .into_iter()
        .flat_map(|answer| match answer {
            Answer::Found(found) => found,
            _ => Vec::new(),
        })
        .collect();
    let mut doubled = None;
    if addresses.is_empty() {
        for zone in e.zones() {
            let name = format!("{}.{zone}", e.query);
            if let Answer::Found(targets) = lookups.lookup(&name, Kind::Cname).await {
                doubled = Some((zone, targets));
                break;
            }
        }
    }
    Observation {
        answer,
        addresses,
        doubled,
    }
}

/// A random DNS label of 12 lower-case letters and digits, under which a wildcard is looked
/// up.
fn random_label() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Answers from a table; anything not in it does not exist. Remembers what was asked.
    #[derive(Default)]
    struct Table {
        answers: HashMap<(String, Kind), Answer>,
        asked: Mutex<Vec<(String, Kind)>>,
    }

    impl Table {
        fn with(mut self, name: &str, kind: Kind, answer: Answer) -> Self {
            self.answers.insert((name.into(), kind), answer);
            self
        }
    }

    impl Lookups for Table {
        fn lookup<'a>(&'a self, name: &'a str, kind: Kind) -> LookupFuture<'a> {
            self.asked.lock().unwrap().push((name.into(), kind));
            let answer = self
                .answers
                .get(&(name.to_string(), kind))
                .cloned()
                .unwrap_or(Answer::NoName);
            Box::pin(async move { answer })
        }
    }

    const T: &str = "t.cname.ferry.test";

    #[tokio::test]
    async fn a_present_cname_needs_one_lookup() {
        let table = Table::default().with(
            "app.example.com",
            Kind::Cname,
            Answer::Found(vec![T.into()]),
        );
        let v = check(
            &table,
            vec![Expectation::domain_cname("app.example.com", T)],
        )
        .await;
        assert!(v[0].ok());
        assert_eq!(table.asked.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_absent_cname_looks_for_addresses_and_doubled_zones() {
        let table = Table::default().with(
            "app.example.com.example.com",
            Kind::Cname,
            Answer::Found(vec![T.into()]),
        );
        let v = check(
            &table,
            vec![Expectation::domain_cname("app.example.com", T)],
        )
        .await;
        assert_eq!(
            v[0].problem,
            Some(Problem::SuffixDoubled {
                zone: "example.com".into(),
                targets: vec![T.into()]
            })
        );
        let table = Table::default()
            .with("app.example.com", Kind::Cname, Answer::NoData)
            .with(
                "app.example.com",
                Kind::A,
                Answer::Found(vec!["192.0.2.1".into()]),
            );
        let v = check(
            &table,
            vec![Expectation::domain_cname("app.example.com", T)],
        )
        .await;
        assert_eq!(v[0].problem, Some(Problem::Address));
        assert!(!table
            .asked
            .lock()
            .unwrap()
            .iter()
            .any(|(n, _)| n.ends_with(".example.com.example.com")));
    }

    #[tokio::test]
    async fn a_failed_lookup_stops_there() {
        let table = Table::default().with(
            "app.example.com",
            Kind::Cname,
            Answer::Failed("down".into()),
        );
        let v = check(
            &table,
            vec![Expectation::domain_cname("app.example.com", T)],
        )
        .await;
        assert_eq!(v[0].problem, Some(Problem::Resolver("down".into())));
        assert_eq!(table.asked.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn nothing_listening_fails_within_the_lookup_timeout() {
        // A UDP port that was just bound and closed: nothing answers there.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let lookups = HickoryLookups::new(Some(port));
        let start = std::time::Instant::now();
        let answer = lookups.lookup("app.example.com", Kind::Cname).await;
        assert!(matches!(answer, Answer::Failed(_)), "{answer:?}");
        assert!(start.elapsed() <= LOOKUP_TIMEOUT + std::time::Duration::from_millis(500));
    }
}
