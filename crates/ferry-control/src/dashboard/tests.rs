//! The dashboard's sign-in, session and CSRF rules, in process over the whole router (the
//! REST API beside it), as a browser without JavaScript meets them. The end-to-end test
//! (tests/e2e/dashboard.rs) clicks through the same pages in Chromium.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::json;

use super::OverTls;
use crate::router;
use crate::test_support::{answer, Api};

/// A browser without JavaScript: a cookie jar and forms.
pub(super) struct Browser<'a> {
    api: &'a Api,
    pub(super) jar: HashMap<String, String>,
    tls: bool,
}

pub(super) struct Page {
    pub(super) status: StatusCode,
    headers: HeaderMap,
    pub(super) html: String,
}

impl Page {
    pub(super) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the first hidden CSRF field on the page.
    pub(super) fn csrf(&self) -> String {
        let start = self
            .html
            .find(r#"name="csrf" value=""#)
            .expect("a CSRF field")
            + 19;
        let len = self.html[start..].find('"').expect("end of value");
        self.html[start..start + len].to_string()
    }

    /// The HTML from the error beside `field` to the end, where that error's words are.
    pub(super) fn error_beside(&self, field: &str) -> &str {
        let at = self
            .html
            .find(&format!("id=\"{field}-error\""))
            .unwrap_or_else(|| panic!("no error beside {field}: {}", self.html));
        &self.html[at..]
    }

    pub(super) fn cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl<'a> Browser<'a> {
    pub(super) fn new(api: &'a Api) -> Self {
        Self {
            api,
            jar: HashMap::new(),
            tls: false,
        }
    }

    pub(super) async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let body = form.map(|f| {
            (
                "application/x-www-form-urlencoded".to_string(),
                serde_urlencoded::to_string(f).expect("form"),
            )
        });
        self.send_body(method, path, body).await
    }

    /// Posts `parts` as `multipart/form-data`, as a form with a file input sends it; a name
    /// ending in `_file` is sent as a file.
    pub(super) async fn post_multipart(&mut self, path: &str, parts: &[(&str, &str)]) -> Page {
        let boundary = "ferry-test-boundary";
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
            ));
            if name.ends_with("_file") {
                body.push_str("; filename=\"upload.pem\"\r\nContent-Type: application/x-pem-file");
            }
            body.push_str(&format!("\r\n\r\n{value}\r\n"));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send_body(Method::POST, path, Some((content_type, body)))
            .await
    }

    async fn send_body(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(String, String)>,
    ) -> Page {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = Request::builder().method(method).uri(path);
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies.join("; "));
        }
        let body = match body {
            Some((content_type, b)) => {
                req = req.header("Content-Type", content_type);
                Body::from(b)
            }
            None => Body::empty(),
        };
        let app = router(self.api.state.clone());
        let app = if self.tls {
            app.layer(axum::Extension(OverTls))
        } else {
            app
        };
        let (status, headers, bytes) = answer(app, req.body(body).expect("request")).await;
        let page = Page {
            status,
            headers,
            html: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for c in page.cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.jar.remove(k);
                } else {
                    self.jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        page
    }

    pub(super) async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    pub(super) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// A browser signed in with the API's own key.
    pub(super) async fn signed_in(api: &'a Api) -> Self {
        let mut b = Self::new(api);
        b.sign_in(&api.key).await;
        b
    }

    /// Signs in with `key` through the sign-in form.
    pub(super) async fn sign_in(&mut self, key: &str) -> Page {
        let csrf = self.get("/").await.csrf();
        self.post("/dashboard/sign-in", &[("csrf", &csrf), ("api_key", key)])
            .await
    }

    /// A page's CSRF token, from the page a signed-in browser reads first.
    pub(super) async fn csrf(&mut self) -> String {
        self.get("/dashboard/domains").await.csrf()
    }
}

const PAGES: [&str; 15] = [
    "/dashboard",
    "/dashboard/agent-ingresses",
    "/dashboard/agent-ingresses/agin_0123456789abcdefghijABCDEFG",
    "/dashboard/authtokens/cr_0123456789abcdefghijABCDEFG/edit",
    "/dashboard/certificate-authorities",
    "/dashboard/tls-certificates",
    "/dashboard/live",
    "/dashboard/live/fragment",
    "/dashboard/edge",
    "/dashboard/domains",
    "/dashboard/domains/rd_0123456789abcdefghijABCDEFG",
    "/dashboard/authtokens",
    "/dashboard/authtokens/new",
    "/dashboard/bot-users",
    "/dashboard/api-keys",
];

#[tokio::test]
async fn every_page_and_write_without_a_session_goes_to_sign_in() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    let page = b.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Sign in"), "{}", page.html);
    assert!(page.headers[axum::http::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .is_ok_and(|p| p.contains("default-src 'none'")));
    for path in PAGES {
        let page = b.get(path).await;
        assert_eq!(
            (page.status, page.location()),
            (StatusCode::SEE_OTHER, "/"),
            "{path}"
        );
    }
    for path in [
        "/dashboard/domains",
        "/dashboard/bot-users",
        "/dashboard/sign-out",
        "/dashboard/agent-ingresses",
        "/dashboard/certificate-authorities",
        "/dashboard/tls-certificates",
        "/dashboard/live/ts_0123456789abcdefghijABCDEFG/stop",
        "/dashboard/bot-users/bot_0123456789abcdefghijABCDEFG/deactivate",
        "/dashboard/authtokens/cr_0123456789abcdefghijABCDEFG/edit",
    ] {
        let page = b.post(path, &[("name", "x")]).await;
        assert_eq!(
            (page.status, page.location()),
            (StatusCode::SEE_OTHER, "/"),
            "{path}"
        );
    }
    let (status, _) = api.call(Method::GET, "/bot_users", None).await;
    assert_eq!(status, StatusCode::OK, "nothing was created");
    // The REST API is unchanged beside it: its JSON 404 and its Bearer check.
    let (status, body) = api.call(Method::GET, "/no_such_thing", None).await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::NOT_FOUND, &json!("ERR_FERRY_240"))
    );
}

#[tokio::test]
async fn sign_in_takes_an_api_key_and_sets_a_strict_http_only_cookie() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    let page = b.sign_in("not-a-key").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("id=\"api_key-error\""), "{}", page.html);
    assert!(page.html.contains("ERR_FERRY_201"), "{}", page.html);
    assert!(!b.jar.contains_key("ferry_session"));

    let page = b.sign_in(&api.key).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/dashboard/domains")
    );
    let cookie = page
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ferry_session="))
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let page = b.get("/dashboard/domains").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(">Domains</a>"), "{}", page.html);
    // Signed in, the sign-in page moves on.
    assert_eq!(b.get("/").await.location(), "/dashboard/domains");

    let mut over_tls = Browser::new(&api);
    over_tls.tls = true;
    let page = over_tls.sign_in(&api.key).await;
    assert!(page
        .cookies()
        .iter()
        .any(|c| c.starts_with("ferry_session=") && c.contains("; Secure")));
}

#[tokio::test]
async fn sign_in_without_its_own_form_token_is_refused() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    let page = b
        .post(
            "/dashboard/sign-in",
            &[("csrf", "forged"), ("api_key", &api.key)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("ERR_FERRY_280"), "{}", page.html);
    assert!(!b.jar.contains_key("ferry_session"));
}

#[tokio::test]
async fn a_write_without_the_session_csrf_token_is_refused() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    for form in [
        vec![("name", "bot")],
        vec![("name", "bot"), ("csrf", "wrong")],
    ] {
        let page = b.post("/dashboard/bot-users", &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form:?}");
        assert!(page.html.contains("ERR_FERRY_280"), "{}", page.html);
    }
    let (_, bots) = api.call(Method::GET, "/bot_users", None).await;
    assert_eq!(bots["bot_users"], json!([]));

    let csrf = b.csrf().await;
    let page = b
        .post("/dashboard/bot-users", &[("name", "bot"), ("csrf", &csrf)])
        .await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/dashboard/bot-users")
    );
    let (_, bots) = api.call(Method::GET, "/bot_users", None).await;
    assert_eq!(bots["bot_users"][0]["name"], "bot");
}

#[tokio::test]
async fn sign_out_and_a_deleted_api_key_end_the_session() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let session = b.jar["ferry_session"].clone();
    let page = b.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(page.location(), "/");
    // The old cookie, kept by an attacker, is no use either.
    b.jar.insert("ferry_session".into(), session);
    assert_eq!(b.get("/dashboard/domains").await.location(), "/");

    // A key made for the dashboard, then deleted through the REST API.
    let (_, key) = api.call(Method::POST, "/api_keys", Some(json!({}))).await;
    let mut b = Browser::new(&api);
    b.sign_in(key["token"].as_str().expect("token")).await;
    assert_eq!(b.get("/dashboard/domains").await.status, StatusCode::OK);
    let id = key["id"].as_str().expect("id");
    let (status, _) = api
        .call(Method::DELETE, &format!("/api_keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(b.get("/dashboard/domains").await.location(), "/");
}

#[tokio::test]
async fn an_authtoken_is_created_with_the_rest_rules_and_shown_once() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let page = b
        .post(
            "/dashboard/authtokens",
            &[
                ("csrf", &csrf),
                ("owner_id", ""),
                ("acl", "connect:a.example.com"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let beside = page.error_beside("acl");
    assert!(beside.contains("ERR_FERRY_244"), "{}", page.html);

    let page = b
        .post(
            "/dashboard/authtokens",
            &[
                ("csrf", &csrf),
                ("owner_id", ""),
                ("acl", "bind:*.customer1.example.com\n"),
            ],
        )
        .await;
    assert_eq!(page.location(), "/dashboard/authtokens");
    let (_, listed) = api.call(Method::GET, "/credentials", None).await;
    assert_eq!(
        listed["credentials"][0]["acl"],
        json!(["bind:*.customer1.example.com"])
    );
    let first = b.get("/dashboard/authtokens").await;
    assert!(first.html.contains("Your new authtoken"), "{}", first.html);
    let again = b.get("/dashboard/authtokens").await;
    assert!(!again.html.contains("Your new authtoken"), "{}", again.html);
}

#[tokio::test]
async fn a_taken_domain_is_refused_beside_its_field_with_the_code() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("domain", "*.customer1.example.com"),
    ];
    let page = b.post("/dashboard/domains", &form).await;
    assert!(
        page.location().starts_with("/dashboard/domains/rd_"),
        "{}",
        page.location()
    );
    let panel = b.get(page.location()).await;
    assert!(panel.html.contains("DNS Targets") && panel.html.contains("2 targets"));

    let page = b.post("/dashboard/domains", &form).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    let beside = page.error_beside("domain");
    assert!(beside.contains("is already reserved"), "{}", page.html);
    assert!(beside.contains("ERR_FERRY_242"), "{}", page.html);
    // The field keeps what was typed.
    assert!(
        page.html.contains("value=\"*.customer1.example.com\""),
        "{}",
        page.html
    );
}
