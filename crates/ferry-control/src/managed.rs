//! Managed certificates as reserved domains and agent ingresses show and start them: a
//! `certificate_management_policy` starts a job (the store's `cert_jobs`), which the edge's
//! runner works on; the status the API shows is what the job last wrote.

use serde_json::{json, Value};

use crate::resource::ApiResult;
use crate::AppState;

/// ngrok's `certificate_management_status`: `null` without a policy, else what the job
/// wrote (a row from before jobs existed shows its provisioning as just started).
pub(crate) fn status(policy: &Value, stored: &Value, created_at: &str) -> Value {
    match (policy.is_null(), stored.is_null()) {
        (true, _) => Value::Null,
        (false, false) => stored.clone(),
        (false, true) => json!({
            "renews_at": null,
            "provisioning_job": {
                "error_code": null,
                "msg": "Managed certificate provisioning in progress.",
                "started_at": created_at,
                "retries_at": null,
            }
        }),
    }
}

/// ngrok's `certificate`: the uploaded one attached, else the managed one being served.
pub(crate) fn certificate(s: &AppState, uploaded: &str, managed: &str) -> Value {
    let id = if uploaded.is_empty() {
        managed
    } else {
        uploaded
    };
    if id.is_empty() {
        return Value::Null;
    }
    json!({ "id": id, "uri": s.url(&format!("/tls_certificates/{id}")) })
}

/// Starts or stops management after `policy` was set on `owner_id`: a new policy starts a
/// job for `names` (what it replaces is dropped), `null` stops it. Returns the status to
/// show now.
pub(crate) async fn apply(
    s: &AppState,
    owner_id: &str,
    policy: &Value,
    names: Vec<String>,
) -> ApiResult<Value> {
    let shown = if policy.is_null() {
        s.store.stop_cert_job(owner_id).await?;
        Value::Null
    } else {
        let key_type = policy["private_key_type"].as_str().unwrap_or("ecdsa");
        s.store
            .start_cert_job(owner_id, names, key_type)
            .await?
            .status()
    };
    s.live.certificates_changed();
    Ok(shown)
}
