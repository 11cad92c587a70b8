//! Certificate jobs: one per reserved domain or agent ingress whose certificate Ferry manages.
//! The job is a row, not a task's memory, so that a restart (or a kill -9) resumes it where
//! it was, and so that its progress is what the API shows as `provisioning_job`.

use serde_json::Value;

use crate::record::{record, Unique};

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
