//! The REST API's error body, shaped as ngrok's: `error_code` (a string), `status_code`,
//! `msg` and `details.operation_id`, always all present so ngrok's clients can read them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_types::{ErrorCode, ResourceId};
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct ApiError {
    /// Sets the HTTP status and `error_code`, and `details.ngrok_error_code` when the code
    /// has an ngrok twin.
    pub code: ErrorCode,
    /// `msg` without the code: the answer appends ` [ERR_FERRY_...]` itself. Written for the
    /// person who sent the request, naming the field or value at fault.
    pub msg: String,
}

/// A body [`ferry_api::parse`] refused, answered with its code and words.
impl From<ferry_api::Refused> for ApiError {
    fn from(r: ferry_api::Refused) -> Self {
        Self::new(r.code, r.msg)
    }
}

impl ApiError {
    /// An answer of any code; [`ApiError::not_found`] and [`ApiError::field`] word the two
    /// that every resource gives.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// A well-formed ID that names nothing (404): `what` is the resource as people call it.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} {id} not found"))
    }

    /// A body field whose value is refused (400); `field` is its JSON name, dotted for a
    /// nested one (`certificate_management_policy.authority`).
    pub fn field(field: &str, why: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::FieldInvalid, format!("field {field:?}: {why}"))
    }

    /// The request field this error is about, as its message names it first (`field
    /// "acl[0]": ...` is `acl`), so that a form shows the error beside that field.
    pub(crate) fn field_name(&self) -> Option<&str> {
        let rest = self.msg.strip_prefix("field \"")?;
        let name = &rest[..rest.find('"')?];
        Some(name.split(['[', '.']).next().unwrap_or(name))
    }

    /// Converts a store error from creating a resource whose `field` must be unique: a
    /// duplicate is named as the request's field, `field "domain": x is already reserved`
    /// (with `taken` the words after the value), instead of the store's table words.
    pub(crate) fn unique(
        field: &'static str,
        taken: &'static str,
    ) -> impl FnOnce(ferry_store::StoreError) -> Self {
        move |e| match e {
            ferry_store::StoreError::Duplicate { value, .. } => Self::new(
                ErrorCode::AlreadyExists,
                format!("field {field:?}: {value} {taken}"),
            ),
            e => e.into(),
        }
    }
}

impl From<ferry_store::StoreError> for ApiError {
    fn from(e: ferry_store::StoreError) -> Self {
        use ferry_store::DbCause;
        if let ferry_store::StoreError::Duplicate { what, value } = e {
            return Self::new(
                ErrorCode::AlreadyExists,
                format!("{what} {value:?} already exists"),
            );
        }
        let db = e.db_error();
        tracing::error!(
            error = %e,
            db_code = db.and_then(|d| d.code()).unwrap_or_default(),
            "store failure in the REST API"
        );
        let cause = e.cause().unwrap_or(DbCause::Other);
        if cause == DbCause::Other {
            return Self::new(
                ErrorCode::Internal,
                "the store failed; the edge's log has the cause",
            );
        }
        // The cause and the database's own words say what happened, the advice what to do;
        // both are about the operator's infrastructure, which an API key's holder runs.
        let advice = advice(cause, db.and_then(|d| d.backend()));
        let words = db.map(|d| format!(" ({d})")).unwrap_or_default();
        Self::new(cause.code(), format!("{cause}{words}; {advice}"))
    }
}

/// What the operator should do about a store failure of `cause`. Each cause has three pieces
/// of advice, side by side: for SQLite, for PostgreSQL, and for a failure before the database
/// answered (a pool timeout), which does not say which database it is.
fn advice(cause: ferry_store::DbCause, backend: Option<ferry_store::Backend>) -> &'static str {
    use ferry_store::Backend::{Postgres, Sqlite};
    use ferry_store::DbCause::{DiskFull, ReadOnly};
    let (sqlite, postgres, unknown) = match cause {
        DiskFull => (
            "free space on the volume holding the edge's data directory, then retry",
            "free space on the PostgreSQL server's data volume, then retry",
            "free space on the volume holding the database, then retry",
        ),
        ReadOnly => (
            "give the edge write access to its data directory and ferry.db (a read-only mount or file permissions), then retry",
            "point --database-url at a PostgreSQL primary that takes writes (not a standby or a read-only database), then retry",
            "give the edge write access to its database, then retry",
        ),
        _ => (
            "check the volume holding the edge's data directory, then retry",
            "check that the PostgreSQL server is up and reachable, then retry",
            "check that the database is up and reachable, then retry",
        ),
    };
    match backend {
        Some(Sqlite) => sqlite,
        Some(Postgres) => postgres,
        None => unknown,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut details = json!({ "operation_id": ResourceId::generate("op").to_string() });
        if let Some(ngrok) = self.code.ngrok() {
            details["ngrok_error_code"] = json!(ngrok);
        }
        let body = json!({
            "error_code": self.code.to_string(),
            "status_code": status.as_u16(),
            "msg": format!("{} [{}]", self.msg, self.code),
            "details": details,
        });
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_store::testing::{fill_until_full, store_with, ScratchDir};
    use ferry_store::Store;

    async fn answer(e: ferry_store::StoreError) -> (u16, serde_json::Value) {
        let response = ApiError::from(e).into_response();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).expect("JSON body"))
    }

    /// A migrated SQLite file, then a store on it whose connections run `setup`.
    async fn sqlite_with(dir: &ScratchDir, query: &str, setup: &'static str) -> Store {
        let path = dir.path.join("ferry.db");
        drop(Store::open_sqlite(&path).await.expect("open"));
        store_with(&format!("sqlite://{}{query}", path.display()), setup).await
    }

    #[tokio::test]
    async fn a_full_disk_answers_507_with_the_cause_and_what_to_do() {
        let dir = ScratchDir::new();
        let store = sqlite_with(&dir, "", "PRAGMA max_page_count=1").await;
        let (status, body) = answer(fill_until_full(&store).await).await;
        assert_eq!(status, 507);
        assert_eq!(body["status_code"], 507);
        assert_eq!(body["error_code"], "ERR_FERRY_290");
        let msg = body["msg"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("the store's disk is full (database or disk is full); free space"),
            "{msg}"
        );
        assert!(msg.ends_with("[ERR_FERRY_290]"), "{msg}");
        assert!(body["details"]["operation_id"].is_string(), "{body}");
    }

    #[tokio::test]
    async fn a_read_only_database_answers_503_read_only() {
        let dir = ScratchDir::new();
        let store = sqlite_with(&dir, "?mode=ro", "PRAGMA busy_timeout=5000").await;
        let e = store.create_api_key("x", "", "").await.unwrap_err();
        let (status, body) = answer(e).await;
        assert_eq!(status, 503);
        assert_eq!(body["error_code"], "ERR_FERRY_291");
        let msg = body["msg"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("the store is read-only (attempt to write a readonly database); "),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn failures_that_are_not_the_database_stay_internal() {
        let e = Store::open("mysql://x").await.err().expect("unsupported");
        let (status, body) = answer(e).await;
        assert_eq!(status, 500);
        assert_eq!(body["error_code"], "ERR_FERRY_299");
    }
}
