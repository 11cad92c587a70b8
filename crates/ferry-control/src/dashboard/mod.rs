//! The dashboard: the guides' dashboard steps as server-rendered pages, served with the REST
//! API from the same listener. `GET /` is the sign-in page (an API key); everything else lives
//! under `/dashboard/`, a path no REST resource uses, so the REST routes, their Bearer check
//! and their JSON 404 stay as they are. Every action calls the code the REST handlers call,
//! with the same request structs, so a rule is written once.

mod csrf;
#[cfg(test)]
mod page_tests;
mod pages;
mod session;
#[cfg(test)]
mod tests;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Marks a request that came over TLS (`--api-domain` on the public port), so the session
/// cookie is set `Secure`. [`crate::serve_io`] adds it to every request it serves.
#[derive(Clone, Copy, Debug)]
pub struct OverTls;

/// The dashboard's routes, merged into the API's router beside (not under) its Bearer check.
pub(crate) fn routes() -> Router<AppState> {
    use ferry_store::{
        AgentIngress, ApiKey, BotUser, CertificateAuthority, Credential, ReservedDomain,
        TlsCertificate,
    };
    use pages::check_status::{check, panel};
    use pages::listed::{delete, list};
    use pages::{
        agent_ingresses, api_keys, authtoken_edit, authtokens, bot_users, certificates, domains,
        edge, live, sign_in,
    };
    Router::new()
        .route("/", get(sign_in::page))
        .route("/dashboard/sign-in", post(sign_in::submit))
        .route("/dashboard/sign-out", post(sign_in::sign_out))
        .route("/dashboard/assets/dashboard.css", get(pages::css))
        .route("/dashboard/assets/copy.js", get(pages::copy_js))
        .route("/dashboard/assets/live.js", get(pages::live_js))
        .route("/dashboard", get(pages::home))
        .route(
            "/dashboard/domains",
            get(list::<ReservedDomain>).post(domains::create),
        )
        .route("/dashboard/domains/{id}", get(panel::<ReservedDomain>))
        .route(
            "/dashboard/domains/{id}/check",
            post(check::<ReservedDomain>),
        )
        .route(
            "/dashboard/domains/{id}/delete",
            post(delete::<ReservedDomain>),
        )
        .route(
            "/dashboard/agent-ingresses",
            get(list::<AgentIngress>).post(agent_ingresses::create),
        )
        .route(
            "/dashboard/agent-ingresses/{id}",
            get(panel::<AgentIngress>),
        )
        .route(
            "/dashboard/agent-ingresses/{id}/check",
            post(check::<AgentIngress>),
        )
        .route(
            "/dashboard/agent-ingresses/{id}/delete",
            post(delete::<AgentIngress>),
        )
        .route(
            "/dashboard/authtokens",
            get(authtokens::list).post(authtokens::create),
        )
        .route("/dashboard/authtokens/new", get(authtokens::new))
        .route(
            "/dashboard/authtokens/{id}/delete",
            post(delete::<Credential>),
        )
        .route(
            "/dashboard/authtokens/{id}/edit",
            get(authtoken_edit::form).post(authtoken_edit::save),
        )
        .route(
            "/dashboard/bot-users",
            get(list::<BotUser>).post(bot_users::create),
        )
        .route(
            "/dashboard/bot-users/{id}/deactivate",
            post(bot_users::deactivate),
        )
        .route(
            "/dashboard/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route("/dashboard/api-keys/{id}/delete", post(delete::<ApiKey>))
        .route(
            "/dashboard/certificate-authorities",
            get(list::<CertificateAuthority>).post(certificates::create::<CertificateAuthority>),
        )
        .route(
            "/dashboard/certificate-authorities/{id}/delete",
            post(delete::<CertificateAuthority>),
        )
        .route(
            "/dashboard/tls-certificates",
            get(list::<TlsCertificate>).post(certificates::create::<TlsCertificate>),
        )
        .route(
            "/dashboard/tls-certificates/{id}/delete",
            post(delete::<TlsCertificate>),
        )
        .route("/dashboard/live", get(live::page))
        .route("/dashboard/live/fragment", get(live::fragment_only))
        .route("/dashboard/live/{id}/{action}", post(live::act))
        .route("/dashboard/edge", get(edge::page))
        .route(
            "/dashboard/{*rest}",
            get(pages::not_found).post(pages::not_found),
        )
        .layer(axum::middleware::map_response(protect))
}

/// Headers on every dashboard answer: nothing but the dashboard's own files may load or be
/// posted to, no page may frame it, and no page (one may hold a secret shown once) is cached.
async fn protect(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    r
}
