//! What every resource's pages share: where they are, the list page with its create form
//! (a page of rows, "Older" paging on by ID as the REST API does), and the REST API's own
//! create, update and delete run with a form's values, so the same fields are accepted and
//! refused as over the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::{
    AgentIngress, ApiKey, BotUser, CertificateAuthority, Credential, Listed, Page, ReservedDomain,
    TlsCertificate,
};
use ferry_types::ErrorCode;
use maud::{html, Markup};
use serde_json::Value;

use super::{problem, see, shell, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::{delete_one, update_one, ApiResult, Resource};
use crate::{ApiError, AppState};

/// How many rows a list shows at a time.
const PAGE_SIZE: u32 = 50;

/// A resource with a list page in the dashboard.
pub(crate) trait OnDashboard: Resource {
    /// Its entry in the navigation, and its list page's title.
    const NAV: &'static str;
    /// Its list page.
    const PATH: &'static str;
}

/// Where each resource's pages are, named as the navigation names them.
macro_rules! on_dashboard {
    ($($resource:ty: $nav:literal at $path:literal;)*) => {$(
        impl OnDashboard for $resource {
            const NAV: &'static str = $nav;
            const PATH: &'static str = $path;
        }
    )*};
}

on_dashboard! {
    ReservedDomain: "Domains" at "/dashboard/domains";
    AgentIngress: "Agent Ingresses" at "/dashboard/agent-ingresses";
    Credential: "Authtokens" at "/dashboard/authtokens";
    BotUser: "Bot Users" at "/dashboard/bot-users";
    ApiKey: "API Keys" at "/dashboard/api-keys";
    CertificateAuthority: "Certificate Authorities" at "/dashboard/certificate-authorities";
    TlsCertificate: "TLS Certificates" at "/dashboard/tls-certificates";
}

/// The `?before=` of a list page: an ID from an "Older" link.
#[derive(serde::Deserialize)]
pub(crate) struct Before {
    before: Option<String>,
}

impl Before {
    /// The first page: what a form shown again beside its error lists.
    pub(crate) fn none() -> Self {
        Before { before: None }
    }

    fn page(self) -> Page {
        Page {
            before_id: self.before.filter(|b| !b.is_empty()),
            limit: PAGE_SIZE,
        }
    }
}

/// A list page with a create form under its rows.
pub(crate) trait WithForm: OnDashboard {
    /// What the form held: shown again beside the error that refused it, empty at first.
    type Entered: Default + Send + Sync;

    /// The rows of `listed` and the form holding `entered`, `e` beside its field.
    fn view(
        s: &AppState,
        signed: &Signed,
        listed: &Listed<Self>,
        entered: &Self::Entered,
        e: Option<&FormError>,
    ) -> Markup;
}

/// A list page as a link opens it (`?before=` pages on), its form empty.
pub(crate) async fn list<R: WithForm>(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    let entered = R::Entered::default();
    list_page::<R>(&s, &signed, before, None, |listed, e| {
        R::view(&s, &signed, listed, &entered, e)
    })
    .await
}

/// The first page again after a create was refused: the form as it was sent, the error
/// beside its field.
pub(crate) async fn refused<R: WithForm>(
    s: &AppState,
    signed: &Signed,
    error: ApiError,
    entered: &R::Entered,
) -> Response {
    list_page::<R>(
        s,
        signed,
        Before::none(),
        Some(FormError(error)),
        |listed, e| R::view(s, signed, listed, entered, e),
    )
    .await
}

/// A list page: the page of `R` that `before` asks for, drawn by `view` with the form's
/// error beside its field.
pub(crate) async fn list_page<R: OnDashboard>(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    view: impl FnOnce(&Listed<R>, Option<&FormError>) -> Markup,
) -> Response {
    let listed = match s.store.list::<R>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    form_page(R::NAV, signed, R::NAV, error, |e| view(&listed, e))
}

/// A page with a form: `view` draws it with `error` beside its field, and the page answers
/// that error's status.
pub(crate) fn form_page(
    title: &str,
    signed: &Signed,
    nav: &str,
    error: Option<FormError>,
    view: impl FnOnce(Option<&FormError>) -> Markup,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    (
        status,
        shell(title, Some(signed), nav, view(error.as_ref())),
    )
        .into_response()
}

/// The "Older" link of a list, when older rows remain.
pub(crate) fn older<R: OnDashboard>(listed: &Listed<R>) -> Markup {
    html! {
        @if let (true, Some(last)) = (listed.more, listed.items.last()) {
            p { a href={ (R::PATH) "?before=" (last.id()) } { "Older" } }
        }
    }
}

/// Creates one as the REST API's `POST` does, from a form's values as its JSON body.
pub(crate) async fn create<R: Resource>(s: &AppState, fields: Value) -> ApiResult<Value> {
    R::create(s, body(fields)?).await
}

/// Changes one as the REST API's `PATCH` does, from a form's values as its JSON body.
pub(crate) async fn update<R: Resource + Clone>(
    s: &AppState,
    id: &str,
    fields: Value,
) -> ApiResult<R> {
    update_one::<R>(s, id, body(fields)?).await
}

/// Deletes one as the REST API's `DELETE` does (revoking an authtoken, ending an API key's
/// sessions), then shows the list.
pub(crate) async fn delete<R: OnDashboard>(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<R>(&s, &id).await {
        Ok(()) => see(R::PATH),
        Err(e) => problem(e),
    }
}

fn body<T: serde::de::DeserializeOwned>(v: Value) -> ApiResult<T> {
    serde_json::from_value(v).map_err(|e| ApiError::new(ErrorCode::FieldInvalid, e.to_string()))
}
