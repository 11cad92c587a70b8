//! `GET /metrics`: the edge's Prometheus text ([`crate::Live::metrics`]) for a scraper that
//! holds an API key. It is not one of ngrok's operations, so it asks for no `Ngrok-Version`
//! (`auth.rs`; Prometheus sends none) and stays out of the OpenAPI document.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::AppState;

pub(crate) async fn serve(State(state): State<AppState>) -> Response {
    let text = state.live.metrics().await;
    ([(CONTENT_TYPE, ferry_metrics::CONTENT_TYPE)], text).into_response()
}
