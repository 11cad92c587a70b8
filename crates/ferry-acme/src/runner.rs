//! The certificate jobs, run in the background: each due job gets one attempt from its
//! [`Issuer`], whose outcome ([`schedule::after`]) is written back to the job's row before the
//! next, so a restart resumes where the last write left off. The store is the clock's only
//! memory: nothing here survives the process but what the rows say.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferry_store::{CertJob, NewTlsCertificate, Store, StoreError, ISSUED, PENDING};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::schedule::{self, Attempt};

/// A certificate and its key, as an issuer hands them over.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The chain in PEM, leaf first.
    pub chain_pem: String,
    /// The leaf's private key in PEM.
    pub key_pem: String,
    /// The renewal window the CA suggests (ACME Renewal Information), if it offers one.
    pub renewal_window: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// Where managed certificates come from: an ACME CA, or the installation's CA in dev mode.
pub trait Issuer: Send + Sync + 'static {
    /// One attempt at a certificate for `job`: issued, or why not ([`Attempt::DnsMissing`],
    /// [`Attempt::CaFailed`]). May record progress (an order's URL) in the job.
    fn issue<'a>(
        &'a self,
        job: &'a mut CertJob,
    ) -> impl Future<Output = Result<Issued, Attempt>> + Send + 'a;
}

/// Runs the store's certificate jobs with `issuer`.
pub struct Runner<I> {
    store: Store,
    issuer: I,
    wake: Arc<Notify>,
    installed: Box<dyn Fn() + Send + Sync>,
}

/// How long the runner sleeps at most without a due job: the safety net for a job written by
/// another process without a wake-up.
const IDLE_CHECK: Duration = Duration::from_secs(30);

impl<I: Issuer> Runner<I> {
    /// A runner that calls `installed` whenever it has installed a certificate (the edge then
    /// reloads what it serves).
    pub fn new(store: Store, issuer: I, installed: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            store,
            issuer,
            wake: Arc::new(Notify::new()),
            installed: Box::new(installed),
        }
    }

    /// Wakes the runner to look at the jobs now (one was started or stopped).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            let next = match self.run_due().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the certificate jobs; trying again shortly");
                    Some(OffsetDateTime::now_utc() + Duration::from_secs(5))
                }
            };
            let sleep = next
                .map(|at| {
                    let left = at - OffsetDateTime::now_utc();
                    Duration::try_from(left).unwrap_or(Duration::ZERO)
                })
                .unwrap_or(IDLE_CHECK)
                .min(IDLE_CHECK);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Gives every due job one attempt; returns when the earliest job not yet due is.
    async fn run_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let mut earliest: Option<OffsetDateTime> = None;
        for mut job in self.store.all::<CertJob>().await? {
            let now = OffsetDateTime::now_utc();
            let due = due_at(&job);
            if due.is_none_or(|at| at <= now) {
                self.attempt(&mut job).await?;
            }
            if let Some(at) = due_at(&job) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        Ok(earliest)
    }

    async fn attempt(&self, job: &mut CertJob) -> Result<(), StoreError> {
        if job.state == ISSUED {
            // Renewal: the served certificate stays until its successor is installed.
            job.state = PENDING.into();
            job.started_at = rfc3339(OffsetDateTime::now_utc());
            job.msg = "Renewing the managed certificate.".into();
        }
        let started = parse(&job.started_at).unwrap_or_else(OffsetDateTime::now_utc);
        ferry_metrics::acme::order_started();
        let outcome = self.issuer.issue(job).await;
        let now = OffsetDateTime::now_utc();
        match outcome {
            Ok(issued) => match self.install(job, issued, started, now).await {
                Ok(()) => {
                    tracing::info!(owner = %job.owner_id, names = ?job.names, "managed certificate installed");
                    (self.installed)();
                    Ok(())
                }
                Err(why) => {
                    let attempt = Attempt::CaFailed {
                        msg: why,
                        retry_after: None,
                    };
                    self.record(job, &attempt, started, now).await
                }
            },
            Err(attempt) => {
                tracing::info!(owner = %job.owner_id, outcome = ?attempt, "certificate attempt did not issue");
                self.record(job, &attempt, started, now).await
            }
        }
    }

    /// Writes a failed attempt's outcome.
    async fn record(
        &self,
        job: &mut CertJob,
        attempt: &Attempt,
        started: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let next = schedule::after(attempt, job.attempts, started, now);
        if let Some(code) = next.error_code {
            ferry_metrics::acme::order_failed(code);
        }
        job.error_code = next.error_code.unwrap_or_default().to_string();
        job.msg = next.msg;
        job.attempts = next.attempts;
        job.retries_at = rfc3339(next.runs_at);
        self.store.save_cert_job(job).await
    }

    /// Stores the certificate as the owner's; an unusable one is the CA's failure.
    async fn install(
        &self,
        job: &mut CertJob,
        issued: Issued,
        started: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let (parsed, not_before, not_after) =
            ferry_pki::describe_chain(&issued.chain_pem).map_err(|e| e.to_string())?;
        let next = schedule::after(
            &Attempt::Issued {
                not_before,
                not_after,
                window: issued.renewal_window,
                jitter: rand::random(),
            },
            job.attempts,
            started,
            now,
        );
        job.state = ISSUED.into();
        job.error_code.clear();
        job.msg.clear();
        job.attempts = 0;
        job.order_url.clear();
        job.renews_at = next.renews_at.map(rfc3339).unwrap_or_default();
        job.retries_at.clear();
        let key = self
            .store
            .seal(&issued.key_pem)
            .map_err(|e| e.to_string())?;
        self.store
            .install_managed_cert(
                job,
                NewTlsCertificate {
                    certificate_pem: issued.chain_pem,
                    private_key_pem: key,
                    parsed,
                    managed_by: job.owner_id.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// When a job is next due: `None` for now.
fn due_at(job: &CertJob) -> Option<OffsetDateTime> {
    if job.state == ISSUED {
        parse(&job.renews_at)
    } else {
        parse(&job.retries_at)
    }
}

pub(crate) fn parse(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &Rfc3339).ok()
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ferry_store::{NewReservedDomain, ReservedDomain, TlsCertificate};

    use super::*;
    use crate::DevIssuer;

    /// An issuer that says the customer's records are missing.
    struct NoDns;

    impl Issuer for NoDns {
        async fn issue(&self, _job: &mut CertJob) -> Result<Issued, Attempt> {
            Err(Attempt::DnsMissing {
                msg: "no CNAME at _acme-challenge.c1.example.com".into(),
            })
        }
    }

    /// A reserved domain whose certificate job has just started.
    async fn owner(store: &Store) -> String {
        let owner = store
            .create::<ReservedDomain>(NewReservedDomain {
                domain: "*.c1.example.com".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id
            .to_string();
        store
            .start_cert_job(&owner, vec!["*.c1.example.com".into()], "ecdsa")
            .await
            .unwrap();
        owner
    }

    #[tokio::test]
    async fn a_due_job_is_issued_installed_and_scheduled_for_renewal() {
        let (dir, stores) = ferry_store::testing::both().await;
        for store in stores {
            let owner = owner(&store).await;
            let installed = Arc::new(AtomicUsize::new(0));
            let seen = installed.clone();
            let ca = ferry_pki::DevCa::load_or_create(&dir.path).unwrap();
            let runner = Runner::new(store.clone(), DevIssuer(ca), move || {
                seen.fetch_add(1, Ordering::SeqCst);
            });
            let next = runner.run_due().await.unwrap().unwrap();
            assert_eq!(installed.load(Ordering::SeqCst), 1);
            assert!(next > OffsetDateTime::now_utc() + Duration::from_secs(50 * 86_400));

            let rd = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            assert_eq!(rd.cert_status["provisioning_job"], serde_json::Value::Null);
            assert!(
                rd.cert_status["renews_at"].is_string(),
                "{}",
                rd.cert_status
            );
            let cert = store
                .get::<TlsCertificate>(&rd.managed_cert_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                cert.parsed["subject_alternative_names"]["dns_names"],
                serde_json::json!(["*.c1.example.com"])
            );
            // Nothing is due again: a second pass issues nothing.
            runner.run_due().await.unwrap();
            assert_eq!(installed.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn a_due_renewal_replaces_the_certificate_which_is_served_until_then() {
        let (dir, stores) = ferry_store::testing::both().await;
        for store in stores {
            let owner = owner(&store).await;
            let ca = ferry_pki::DevCa::load_or_create(&dir.path).unwrap();
            let runner = Runner::new(store.clone(), DevIssuer(ca), || {});
            runner.run_due().await.unwrap();
            let first = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();

            // Renewal time has come: while the attempt runs, the first certificate stays.
            let mut job = store.find_by::<CertJob>("owner_id", &owner).await.unwrap()[0].clone();
            job.renews_at = rfc3339(OffsetDateTime::now_utc() - Duration::from_secs(1));
            store.save_cert_job(&job).await.unwrap();
            runner.run_due().await.unwrap();

            let renewed = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            assert_ne!(renewed.managed_cert_id, first.managed_cert_id);
            assert!(
                renewed.cert_status["provisioning_job"].is_null(),
                "{}",
                renewed.cert_status
            );
            let renews_at = parse(renewed.cert_status["renews_at"].as_str().unwrap()).unwrap();
            assert!(renews_at > OffsetDateTime::now_utc() + Duration::from_secs(86_400));
            let managed = store
                .find_by::<TlsCertificate>("managed_by", &owner)
                .await
                .unwrap();
            assert_eq!(managed.len(), 1, "the predecessor is gone once replaced");
        }
    }

    #[tokio::test]
    async fn missing_records_show_dns_error_and_a_retry_time() {
        let (_dir, stores) = ferry_store::testing::both().await;
        for store in stores {
            let owner = owner(&store).await;
            let runner = Runner::new(store.clone(), NoDns, || {});
            let next = runner.run_due().await.unwrap().unwrap();
            assert!(next <= OffsetDateTime::now_utc() + Duration::from_secs(11));
            let rd = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            let job = &rd.cert_status["provisioning_job"];
            assert_eq!(job["error_code"], "DNS_ERROR");
            assert_eq!(job["msg"], "no CNAME at _acme-challenge.c1.example.com");
            assert!(job["retries_at"].is_string(), "{job}");
            assert!(rd.managed_cert_id.is_empty());
        }
    }
}
