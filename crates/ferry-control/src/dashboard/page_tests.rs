//! The dashboard's pages beyond sign-in and Domains, each action checked against what the
//! REST API then answers: agent ingresses, certificates, editing authtokens and bot users,
//! the live view and the edge's status.

use axum::http::{Method, StatusCode};
use ferry_dnscheck::Kind;
use serde_json::json;

use super::tests::Browser;
use crate::router_tests::{found, Api};

#[tokio::test]
async fn an_agent_ingress_shows_its_ns_targets_and_checks_its_delegation() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    b.sign_in(&api.key).await;
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
    let at = page
        .html
        .find("id=\"domain-error\"")
        .expect("beside Domain");
    assert!(page.html[at..].contains("ERR_FERRY_"), "{}", page.html);

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
