//! The dashboard's pages beyond sign-in and Domains, each action checked against what the
//! REST API then answers: agent ingresses, certificates, editing authtokens and bot users,
//! the live view and the edge's status.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use ferry_dnscheck::Kind;
use serde_json::json;

use super::tests::Browser;
use crate::test_support::{found, self_signed, Api, Edge, SESSION};
use crate::{CommandFailure, SessionCommand};

#[tokio::test]
async fn an_agent_ingress_shows_its_ns_targets_and_checks_its_delegation() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("domain", "connect.example.com"),
        ("description", "customer 1"),
    ];
    let page = b.post("/dashboard/agent-ingresses", &form).await;
    let panel_path = page.location().to_string();
    assert!(
        panel_path.starts_with("/dashboard/agent-ingresses/agin_"),
        "{panel_path}"
    );
    let panel = b.get(&panel_path).await;
    for shown in [
        "NS Targets",
        "ns1.ferry.test",
        "ns2.ferry.test",
        "tunnel.us.connect.example.com",
    ] {
        assert!(panel.html.contains(shown), "{shown}: {}", panel.html);
    }
    let (_, listed) = api.call(Method::GET, "/agent_ingresses", None).await;
    assert_eq!(listed["ingresses"][0]["description"], "customer 1");

    // Taken: refused beside the field, with the code.
    let page = b.post("/dashboard/agent-ingresses", &form).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    let beside = page.error_beside("domain");
    assert!(beside.contains("ERR_FERRY_"), "{}", page.html);

    let check = format!("{panel_path}/check");
    let page = b.post(&check, &[("csrf", &csrf)]).await;
    assert!(page.html.contains("ERR_NGROK_6702"), "{}", page.html);
    api.dns(
        "connect.example.com",
        Kind::Ns,
        found(&["ns2.ferry.test", "ns1.ferry.test"]),
    );
    let page = b.post(&check, &[("csrf", &csrf)]).await;
    assert!(
        page.html.contains("DNS records are configured correctly"),
        "{}",
        page.html
    );

    let page = b
        .post(&format!("{panel_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.location(), "/dashboard/agent-ingresses");
    let (_, listed) = api.call(Method::GET, "/agent_ingresses", None).await;
    assert_eq!(listed["ingresses"], json!([]));
}

#[tokio::test]
async fn a_ca_is_uploaded_as_a_file_or_pasted_and_a_key_is_refused_beside_the_field() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let ca = self_signed(true);
    let path = "/dashboard/certificate-authorities";

    // A private key where the certificate belongs: the REST code's words, beside the field.
    let key = ca.key_pair.serialize_pem();
    let page = b
        .post_multipart(
            path,
            &[("csrf", &csrf), ("ca_pem_file", &key), ("ca_pem", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let beside = page.error_beside("ca_pem");
    assert!(beside.contains("private key"), "{}", page.html);
    assert!(beside.contains("ERR_FERRY_"), "{}", page.html);

    // A file that is no PEM.
    let page = b
        .post_multipart(path, &[("csrf", &csrf), ("ca_pem_file", "\u{0}\u{ff}")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);

    // The file, then pasted text.
    let pem = ca.cert.pem();
    let page = b
        .post_multipart(
            path,
            &[
                ("csrf", &csrf),
                ("description", "clients"),
                ("ca_pem_file", &pem),
            ],
        )
        .await;
    assert_eq!(page.location(), path, "{}", page.html);
    let page = b.post(path, &[("csrf", &csrf), ("ca_pem", &pem)]).await;
    assert_eq!(page.location(), path, "{}", page.html);
    let (_, listed) = api
        .call(Method::GET, "/certificate_authorities", None)
        .await;
    let cas = listed["certificate_authorities"].as_array().expect("list");
    assert_eq!(cas.len(), 2, "{listed}");
    let list = b.get(path).await;
    assert!(
        list.html.contains("CN=rcgen self signed cert"),
        "{}",
        list.html
    );

    let id = cas[0]["id"].as_str().expect("id");
    let page = b
        .post(&format!("{path}/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.location(), path);
    let (_, listed) = api
        .call(Method::GET, "/certificate_authorities", None)
        .await;
    assert_eq!(
        listed["certificate_authorities"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_tls_certificate_is_uploaded_with_its_key_and_shows_its_names() {
    let api = Api::new().await;
    let mut b = Browser::signed_in(&api).await;
    let csrf = b.csrf().await;
    let leaf = self_signed(false);
    let (cert, key) = (leaf.cert.pem(), leaf.key_pair.serialize_pem());
    let path = "/dashboard/tls-certificates";

    // Swapped: the certificate in the key's field.
    let page = b
        .post_multipart(
            path,
            &[
                ("csrf", &csrf),
                ("certificate_pem", &cert),
                ("private_key_pem", &cert),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let beside = page.error_beside("private_key_pem");
    assert!(beside.contains("not a private key"), "{}", page.html);

    let page = b
        .post_multipart(
            path,
            &[
                ("csrf", &csrf),
                ("certificate_pem_file", &cert),
                ("private_key_pem_file", &key),
            ],
        )
        .await;
    assert_eq!(page.location(), path, "{}", page.html);
    let list = b.get(path).await;
    assert!(list.html.contains("app.example.test"), "{}", list.html);
    assert!(
        !list.html.contains("PRIVATE KEY-----\n"),
        "the key is never shown"
    );
    let (_, listed) = api.call(Method::GET, "/tls_certificates", None).await;
    assert_eq!(listed["tls_certificates"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_authtokens_acl_and_description_are_edited_through_the_rest_patch() {
    let api = Api::new().await;
    let (_, c) = api
        .call(
            Method::POST,
            "/credentials",
            Some(json!({ "acl": ["bind:a.example.com"] })),
        )
        .await;
    let id = c["id"].as_str().expect("id");
    let mut b = Browser::signed_in(&api).await;
    let list = b.get("/dashboard/authtokens").await;
    let edit = format!("/dashboard/authtokens/{id}/edit");
    assert!(list.html.contains(&edit), "{}", list.html);
    let form = b.get(&edit).await;
    assert!(form.html.contains("bind:a.example.com"), "{}", form.html);
    let csrf = form.csrf();

    let page = b
        .post(&edit, &[("csrf", &csrf), ("acl", "connect:nope")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let beside = page.error_beside("acl");
    assert!(beside.contains("ERR_FERRY_244"), "{}", page.html);

    let page = b
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("description", "customer 1"),
                ("acl", "bind:*.customer1.example.com\r\nbind:b.example.com"),
            ],
        )
        .await;
    assert_eq!(page.location(), "/dashboard/authtokens");
    let (_, c) = api
        .call(Method::GET, &format!("/credentials/{id}"), None)
        .await;
    assert_eq!(c["description"], "customer 1");
    assert_eq!(
        c["acl"],
        json!(["bind:*.customer1.example.com", "bind:b.example.com"])
    );
}

#[tokio::test]
async fn a_bot_user_is_deactivated_as_the_rest_patch_does() {
    let api = Api::new().await;
    let (_, bot) = api
        .call(Method::POST, "/bot_users", Some(json!({ "name": "ci" })))
        .await;
    let id = bot["id"].as_str().expect("id");
    let mut b = Browser::signed_in(&api).await;
    let page = b.get("/dashboard/bot-users").await;
    assert!(page.html.contains("Deactivate"), "{}", page.html);
    let csrf = page.csrf();
    let page = b
        .post(
            &format!("/dashboard/bot-users/{id}/deactivate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.location(), "/dashboard/bot-users");
    let (_, bot) = api
        .call(Method::GET, &format!("/bot_users/{id}"), None)
        .await;
    assert_eq!(bot["active"], false);
    let page = b.get("/dashboard/bot-users").await;
    assert!(!page.html.contains(">Deactivate<"), "{}", page.html);
}

#[tokio::test]
async fn the_live_page_shows_sessions_and_endpoints_and_sends_the_rest_actions() {
    let agent = Arc::new(Edge::with_agent(|command| match command {
        SessionCommand::Update => Err(CommandFailure::Unsupported("not here".into())),
        _ => Ok(()),
    }));
    let api = Api::with_live(agent.clone()).await;
    let mut b = Browser::signed_in(&api).await;
    let page = b.get("/dashboard/live").await;
    for shown in [
        SESSION,
        "3.19.0",
        "192.0.2.7",
        ">us<",
        "1970-01-01T00:00:00Z",
        "https://app.customer1.example.com",
        "http://localhost:8080",
        "/dashboard/assets/live.js",
    ] {
        assert!(page.html.contains(shown), "{shown}: {}", page.html);
    }
    let fragment = b.get("/dashboard/live/fragment").await;
    assert!(fragment.html.contains(SESSION) && !fragment.html.contains("<html"));
    let csrf = page.csrf();
    let page = b
        .post(
            &format!("/dashboard/live/{SESSION}/restart"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.location(), "/dashboard/live");
    // The agent says it cannot: the REST code's error, on the page.
    let page = b
        .post(
            &format!("/dashboard/live/{SESSION}/update"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("ERR_FERRY_248"), "{}", page.html);
    assert_eq!(
        *agent.commands.lock().expect("log"),
        [
            (SESSION.to_string(), SessionCommand::Restart),
            (SESSION.to_string(), SessionCommand::Update)
        ]
    );
    // Without a session the fragment is not served either.
    let mut stranger = Browser::new(&api);
    assert_eq!(
        stranger.get("/dashboard/live/fragment").await.location(),
        "/"
    );
}

#[tokio::test]
async fn the_edge_page_shows_version_listeners_database_counts_and_expiring_certificates() {
    let api = Api::with_live(Arc::new(Edge::with_agent(|_| Ok(())))).await;
    // A certificate that expires in 10 days.
    let mut params =
        rcgen::CertificateParams::new(vec!["soon.example.test".to_owned()]).expect("params");
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("sign");
    let (status, v) = api
        .call(
            Method::POST,
            "/tls_certificates",
            Some(json!({ "certificate_pem": cert.pem(), "private_key_pem": key.serialize_pem() })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let mut b = Browser::signed_in(&api).await;
    let page = b.get("/dashboard/edge").await;
    for shown in [
        "0.0.0-test",
        "127.0.0.1:443",
        "SQLite",
        "<dt>Tunnel Sessions</dt><dd>1</dd>",
        "<dt>Tunnels</dt><dd>1</dd>",
        "Certificates Expiring Within 30 Days (1)",
        "soon.example.test",
    ] {
        assert!(page.html.contains(shown), "{shown}: {}", page.html);
    }
}
