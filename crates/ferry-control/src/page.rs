//! ngrok's paging: `limit` (1–100, default 100) and `before_id`, newest first, with an
//! absolute `uri` and `next_page_uri` (null on the last page).

use axum::extract::RawQuery;
use ferry_store::{Listed, Page};
use ferry_types::{ErrorCode, ResourceId};
use serde_json::{json, Map, Value};

use crate::{ApiError, AppState};

const MAX_LIMIT: u32 = 100;

/// The query of a list request.
pub struct ListQuery {
    pub page: Page,
    /// Repeated `id` and `url` (the endpoint list's deprecated filters).
    pub ids: Vec<String>,
    pub urls: Vec<String>,
}

/// Parses a list query. `prefix` checks `before_id`; `extra` names the filters the list
/// takes besides the common ones.
pub fn list_query(
    q: &RawQuery,
    prefix: &'static str,
    extra: &[&str],
) -> Result<ListQuery, ApiError> {
    let pairs: Vec<(String, String)> = match &q.0 {
        Some(s) => serde_urlencoded::from_str(s).map_err(|e| {
            ApiError::new(
                ErrorCode::QueryParamUnknown,
                format!("the query string does not parse: {e}"),
            )
        })?,
        None => Vec::new(),
    };
    let mut out = ListQuery {
        page: Page {
            before_id: None,
            limit: MAX_LIMIT,
        },
        ids: Vec::new(),
        urls: Vec::new(),
    };
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "limit" => {
                out.page.limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::LimitInvalid,
                            format!("limit {v:?} must be a number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "before_id" => {
                ResourceId::parse(&v, prefix).map_err(|e| {
                    ApiError::new(ErrorCode::IdInvalid, format!("before_id: {e}"))
                })?;
                out.page.before_id = Some(v);
            }
            "filter" => {
                return Err(ApiError::new(
                    ErrorCode::NotSupported,
                    "filter expressions (CEL) are not supported by Ferry; page through the list instead",
                ))
            }
            "id" if extra.contains(&"id") => out.ids.push(v),
            "url" if extra.contains(&"url") => out.urls.push(v),
            other => {
                return Err(ApiError::new(
                    ErrorCode::QueryParamUnknown,
                    format!("unknown query parameter {other:?}; lists take limit and before_id"),
                ))
            }
        }
    }
    Ok(out)
}

/// The list body: `{key: [...], uri, next_page_uri}`.
pub fn list_body<T>(
    state: &AppState,
    path: &str,
    key: &str,
    page: &Page,
    listed: Listed<T>,
    id_of: impl Fn(&T) -> String,
    render: impl Fn(&T) -> Value,
) -> Value {
    let next = if listed.more {
        listed.items.last().map(|last| {
            Value::String(state.url(&format!(
                "{path}?before_id={}&limit={}",
                id_of(last),
                page.limit
            )))
        })
    } else {
        None
    };
    let mut body = Map::new();
    body.insert(
        key.to_string(),
        Value::Array(listed.items.iter().map(render).collect()),
    );
    body.insert("uri".into(), json!(state.url(path)));
    body.insert("next_page_uri".into(), next.unwrap_or(Value::Null));
    Value::Object(body)
}

/// Pages a list held in memory (the live views) the way the store pages tables.
pub fn page_in_memory<T>(
    mut items: Vec<T>,
    page: &Page,
    id_of: impl Fn(&T) -> String,
) -> Listed<T> {
    items.sort_by_key(|t| std::cmp::Reverse(id_of(t)));
    if let Some(before) = &page.before_id {
        items.retain(|t| id_of(t) < *before);
    }
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    Listed { items, more }
}

/// Checks a path ID's prefix and shape.
pub fn path_id(id: &str, prefix: &'static str) -> Result<String, ApiError> {
    ResourceId::parse(id, prefix)
        .map(|i| i.to_string())
        .map_err(|e| ApiError::new(ErrorCode::IdInvalid, e.to_string()))
}
