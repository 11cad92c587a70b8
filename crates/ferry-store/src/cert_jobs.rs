//! Certificate jobs: one per reserved domain or agent ingress whose certificate Ferry manages.
//! The job is a row, not a task's memory, so that a restart (or a kill -9) resumes it where
//! it was, and so that its progress is what the API shows as `provisioning_job`.

use serde_json::{json, Value};

use crate::record::{record, Unique};
use crate::{now_rfc3339, NewTlsCertificate, Store, StoreError, TlsCertificate};

record! {
    /// The managed certificate of one owner: what it must cover, where its provisioning
    /// stands, and when it is next due.
    pub struct CertJob, new NewCertJob {
        table: "cert_jobs",
        prefix: "cj",
        mutable: [names, key_type, state, started_at, msg, error_code, retries_at, attempts,
            renews_at, order_url, challenges],
        unique: Some(Unique { column: "owner_id", what: "certificate job" }),
    }
    columns {
        /// The reserved domain or agent ingress (`rd_`, `agin_`) the certificate is for.
        pub owner_id: String,
        /// The names the certificate covers (`*.x.y` for a wildcard), lower-case.
        pub names: Vec<String>,
        /// `ecdsa` or `rsa`, from the owner's `certificate_management_policy`.
        pub key_type: String,
        /// `pending` while a certificate is being obtained, `issued` once one is served
        /// (renewal sets it back to `pending`, the old certificate still served).
        pub state: String,
        /// When the current provisioning began (RFC 3339).
        pub started_at: String,
        /// ngrok's `provisioning_job.msg`: where it stands, in words.
        pub msg: String,
        /// ngrok's `provisioning_job.error_code`: empty, `DNS_ERROR` or `INTERNAL_ERROR`.
        pub error_code: String,
        /// When the job runs next (RFC 3339): the next attempt after a failure, or the
        /// renewal time once issued. Empty: now.
        pub retries_at: String,
        /// Failed attempts since the last success, for the back-off.
        pub attempts: i64,
        /// When the served certificate is due for renewal (RFC 3339); empty before the
        /// first one.
        pub renews_at: String,
        /// The ACME order being worked on, so that a restarted job resumes it instead of
        /// spending a new one.
        pub order_url: String,
        /// The challenges published for the order (kind, name, token, value), so that the
        /// edge answers HTTP-01 and TLS-ALPN-01 and a finished job can withdraw them.
        pub challenges: Value,
    }
}

/// [`CertJob::state`] while a certificate is being obtained.
pub const PENDING: &str = "pending";
/// [`CertJob::state`] once a certificate is served.
pub const ISSUED: &str = "issued";

/// What a new job says until its first attempt reports.
const STARTING: &str = "Managed certificate provisioning in progress.";

impl CertJob {
    /// ngrok's `certificate_management_status` for this job: `renews_at` once a certificate
    /// is served, and `provisioning_job` while one is being obtained.
    pub fn status(&self) -> Value {
        let opt = |v: &str| if v.is_empty() { Value::Null } else { json!(v) };
        let job = if self.state == PENDING {
            json!({
                "msg": self.msg,
                "started_at": self.started_at,
                "error_code": opt(&self.error_code),
                "retries_at": opt(&self.retries_at),
            })
        } else {
            Value::Null
        };
        json!({ "renews_at": opt(&self.renews_at), "provisioning_job": job })
    }
}

/// The owner of the certificate of the names the installation serves itself
/// (`--api-domain`): no resource shows its status, the edge logs it.
pub const INSTALLATION: &str = "installation";

/// The table of the resource a job's certificate is for, from its ID's prefix; `None` for
/// [`INSTALLATION`].
fn owner_table(owner_id: &str) -> Result<Option<&'static str>, StoreError> {
    match owner_id.split_once('_') {
        _ if owner_id == INSTALLATION => Ok(None),
        Some(("rd", _)) => Ok(Some("reserved_domains")),
        Some(("agin", _)) => Ok(Some("agent_ingresses")),
        _ => Err(StoreError::Corrupt {
            id: owner_id.to_string(),
            why: "a certificate job's owner must be a reserved domain, an agent ingress or the installation".into(),
        }),
    }
}

impl Store {
    /// Starts managing the certificate of `owner_id` for `names`, replacing any job it had
    /// (a changed policy starts over); the owner shows the new job's status at once.
    pub async fn start_cert_job(
        &self,
        owner_id: &str,
        names: Vec<String>,
        key_type: &str,
    ) -> Result<CertJob, StoreError> {
        sqlx::query("DELETE FROM cert_jobs WHERE owner_id = $1")
            .bind(owner_id.to_string())
            .execute(&self.pool)
            .await?;
        let job = self
            .create::<CertJob>(NewCertJob {
                owner_id: owner_id.to_string(),
                names,
                key_type: key_type.to_string(),
                state: PENDING.into(),
                started_at: now_rfc3339(),
                msg: STARTING.into(),
                challenges: json!([]),
                ..Default::default()
            })
            .await?;
        self.write_owner_status(&job).await?;
        Ok(job)
    }

    /// Starts managing the certificate of `owner_id` for `names` unless a job for exactly
    /// those names and key type runs already (a restart keeps the certificate it has).
    pub async fn ensure_cert_job(
        &self,
        owner_id: &str,
        names: Vec<String>,
        key_type: &str,
    ) -> Result<CertJob, StoreError> {
        let existing = self.find_by::<CertJob>("owner_id", owner_id).await?;
        match existing.into_iter().next() {
            Some(job) if job.names == names && job.key_type == key_type => Ok(job),
            _ => self.start_cert_job(owner_id, names, key_type).await,
        }
    }

    /// Stops managing the certificate of `owner_id`: its job and its managed certificates
    /// go, and the owner shows no status.
    pub async fn stop_cert_job(&self, owner_id: &str) -> Result<(), StoreError> {
        let table = owner_table(owner_id)?;
        sqlx::query("DELETE FROM cert_jobs WHERE owner_id = $1")
            .bind(owner_id.to_string())
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM tls_certificates WHERE managed_by = $1")
            .bind(owner_id.to_string())
            .execute(&self.pool)
            .await?;
        let Some(table) = table else { return Ok(()) };
        sqlx::query(&format!(
            "UPDATE {table} SET managed_cert_id = '', cert_status = 'null' WHERE id = $1"
        ))
        .bind(owner_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Writes a job's progress, and the status its owner shows.
    pub async fn save_cert_job(&self, job: &CertJob) -> Result<(), StoreError> {
        self.update(job).await?;
        self.write_owner_status(job).await
    }

    /// Serves `cert` as the managed certificate of the job's owner, in place of any earlier
    /// one, and writes the job (by then `issued`).
    pub async fn install_managed_cert(
        &self,
        job: &CertJob,
        cert: NewTlsCertificate,
    ) -> Result<TlsCertificate, StoreError> {
        let table = owner_table(&job.owner_id)?;
        let cert = self.create::<TlsCertificate>(cert).await?;
        if let Some(table) = table {
            sqlx::query(&format!(
                "UPDATE {table} SET managed_cert_id = $1 WHERE id = $2"
            ))
            .bind(cert.id.to_string())
            .bind(job.owner_id.clone())
            .execute(&self.pool)
            .await?;
        }
        sqlx::query("DELETE FROM tls_certificates WHERE managed_by = $1 AND id <> $2")
            .bind(job.owner_id.clone())
            .bind(cert.id.to_string())
            .execute(&self.pool)
            .await?;
        self.save_cert_job(job).await?;
        Ok(cert)
    }

    async fn write_owner_status(&self, job: &CertJob) -> Result<(), StoreError> {
        let Some(table) = owner_table(&job.owner_id)? else {
            return Ok(());
        };
        sqlx::query(&format!(
            "UPDATE {table} SET cert_status = $1 WHERE id = $2"
        ))
        .bind(job.status().to_string())
        .bind(job.owner_id.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing, NewReservedDomain, ReservedDomain};

    #[tokio::test]
    async fn a_job_writes_its_owners_status_and_installs_its_certificate() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let rd = store
                .create::<ReservedDomain>(NewReservedDomain {
                    domain: "*.c1.example.com".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let owner = rd.id.to_string();
            let mut job = store
                .start_cert_job(&owner, vec!["*.c1.example.com".into()], "ecdsa")
                .await
                .unwrap();
            let read = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            assert_eq!(read.cert_status["provisioning_job"]["msg"], json!(STARTING));
            assert_eq!(read.cert_status["renews_at"], Value::Null);

            job.error_code = "DNS_ERROR".into();
            job.retries_at = "2026-12-02T10:00:10Z".into();
            store.save_cert_job(&job).await.unwrap();
            let read = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            assert_eq!(
                read.cert_status["provisioning_job"]["error_code"],
                json!("DNS_ERROR")
            );

            for _ in 0..2 {
                job.state = ISSUED.into();
                job.renews_at = "2027-01-30T00:00:00Z".into();
                let cert = store
                    .install_managed_cert(
                        &job,
                        NewTlsCertificate {
                            private_key_pem: store.seal("k").unwrap(),
                            parsed: json!({}),
                            managed_by: owner.clone(),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let read = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
                assert_eq!(read.managed_cert_id, cert.id.to_string());
                assert_eq!(
                    read.cert_status,
                    json!({"renews_at": "2027-01-30T00:00:00Z", "provisioning_job": null})
                );
                let managed = store
                    .find_by::<TlsCertificate>("managed_by", &owner)
                    .await
                    .unwrap();
                assert_eq!(managed.len(), 1, "a renewal replaces its predecessor");
            }

            store.stop_cert_job(&owner).await.unwrap();
            let read = store.get::<ReservedDomain>(&owner).await.unwrap().unwrap();
            assert_eq!(read.cert_status, Value::Null);
            assert!(read.managed_cert_id.is_empty());
            assert!(store.all::<CertJob>().await.unwrap().is_empty());
            assert!(store
                .find_by::<TlsCertificate>("managed_by", &owner)
                .await
                .unwrap()
                .is_empty());
        }
    }
}
