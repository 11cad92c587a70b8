//! The router in process (`tower::ServiceExt::oneshot`): each generic operation's success and
//! error shapes, paging, and that the router and the OpenAPI document name the same
//! operations. The end-to-end suite (tests/e2e/control.rs) covers the same API over HTTP.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use ferry_dnscheck::{Answer, Kind};
use serde_json::{json, Value};

use crate::test_support::{found, self_signed, Api, Edge, SESSION};
use crate::{CommandFailure, SessionCommand};

#[tokio::test]
async fn a_failed_agent_command_answers_by_what_went_wrong() {
    let api = Api::with_live(Arc::new(Edge::with_agent(|command| {
        Err(match command {
            SessionCommand::Restart => CommandFailure::NoAnswer("no answer in 10s".into()),
            SessionCommand::Stop => CommandFailure::Refused("busy".into()),
            SessionCommand::Update => CommandFailure::Unsupported("not here".into()),
        })
    })))
    .await;
    for (action, status, code) in [
        ("restart", 504, "ERR_FERRY_250"),
        ("stop", 502, "ERR_FERRY_249"),
        ("update", 400, "ERR_FERRY_248"),
    ] {
        let (got, v) = api
            .call(
                Method::POST,
                &format!("/tunnel_sessions/{SESSION}/{action}"),
                None,
            )
            .await;
        assert_eq!(got.as_u16(), status, "{action}: {v}");
        assert_eq!(v["error_code"], code, "{action}: {v}");
    }
}

fn assert_error(v: &Value, status: u16, code: &str) {
    assert_eq!(v["status_code"], status, "{v}");
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["msg"].as_str().is_some_and(|m| m.contains(code)), "{v}");
    assert!(v["details"]["operation_id"].is_string(), "{v}");
}

#[tokio::test]
async fn create_get_patch_delete_answer_ngrok_shapes() {
    let api = Api::new().await;
    let (status, made) = api
        .call(Method::POST, "/bot_users", Some(json!({ "name": "ci" })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("bot_"), "{made}");
    assert_eq!(made["uri"], format!("https://api.test/bot_users/{id}"));
    assert_eq!(made["active"], true);

    let (status, read) = api
        .call(Method::GET, &format!("/bot_users/{id}"), None)
        .await;
    assert_eq!((status, &read), (StatusCode::OK, &made));

    let (status, patched) = api
        .call(
            Method::PATCH,
            &format!("/bot_users/{id}"),
            Some(json!({ "active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (&patched["name"], &patched["active"]),
        (&json!("ci"), &json!(false))
    );

    let (status, gone) = api
        .call(Method::DELETE, &format!("/bot_users/{id}"), None)
        .await;
    assert_eq!((status, gone), (StatusCode::NO_CONTENT, Value::Null));
    let (status, v) = api
        .call(Method::GET, &format!("/bot_users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&v, 404, "ERR_FERRY_240");
    assert!(v["msg"]
        .as_str()
        .unwrap_or("")
        .contains(&format!("bot user {id} not found")));
}

#[tokio::test]
async fn bad_ids_and_bad_fields_are_400s_that_name_them() {
    let api = Api::new().await;
    let (status, v) = api.call(Method::GET, "/credentials/ak_nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = api
        .call(
            Method::POST,
            "/api_keys",
            Some(json!({ "description": "x".repeat(256) })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_error(&v, 400, "ERR_FERRY_215");
    assert!(
        v["msg"].as_str().unwrap_or("").contains("\"description\""),
        "{v}"
    );
    let (status, v) = api
        .call(Method::POST, "/reserved_addrs", Some(json!({ "nope": 1 })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["msg"].as_str().unwrap_or("").contains("nope"), "{v}");
}

#[tokio::test]
async fn a_taken_domain_is_a_409_that_names_the_field() {
    let api = Api::new().await;
    for (path, body, taken) in [
        (
            "/reserved_domains",
            json!({ "domain": "app.example.test" }),
            "field \"domain\": app.example.test is already reserved",
        ),
        (
            "/agent_ingresses",
            json!({ "domain": "connect.example.test" }),
            "field \"domain\": connect.example.test is already an agent ingress",
        ),
    ] {
        let (status, v) = api.call(Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let (status, v) = api.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{v}");
        assert!(v["msg"].as_str().unwrap_or("").starts_with(taken), "{v}");
    }
}

#[tokio::test]
async fn lists_page_newest_first_with_an_absolute_next_page_uri() {
    let api = Api::new().await;
    let mut made = Vec::new();
    for i in 0..3 {
        let (_, v) = api
            .call(
                Method::POST,
                "/credentials",
                Some(json!({ "description": i.to_string() })),
            )
            .await;
        made.push(v["id"].as_str().expect("id").to_string());
    }
    let (status, page) = api.call(Method::GET, "/credentials?limit=2", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<&str> = page["credentials"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [made[2].as_str(), made[1].as_str()]);
    assert_eq!(page["uri"], "https://api.test/credentials");
    let next = page["next_page_uri"].as_str().expect("next page");
    assert_eq!(
        next,
        format!("https://api.test/credentials?before_id={}&limit=2", made[1])
    );
    let (_, last) = api
        .call(
            Method::GET,
            next.trim_start_matches("https://api.test"),
            None,
        )
        .await;
    assert_eq!(last["credentials"][0]["id"], made[0].as_str());
    assert_eq!(last["next_page_uri"], Value::Null);
    let (status, v) = api.call(Method::GET, "/credentials?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

/// Every operation the document names is routed (not the fallback's 404 or 405), and every
/// routed operation is in the document: both come from `operations()`, and this proves the
/// router took each of them.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let api = Api::new().await;
    let doc = crate::openapi::document("https://api.test");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().expect("operations").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut routed: Vec<(String, String)> = crate::operations()
        .iter()
        .map(|op| (op.method.to_string(), op.path.clone()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
    for (method, path) in &documented {
        let prefix = ops_prefix(&doc, method, path);
        let concrete = path.replace("{id}", &format!("{prefix}_{}", "0".repeat(27)));
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
        let (status, v) = api.call(method.clone(), &concrete, body).await;
        let fallback = v["msg"]
            .as_str()
            .is_some_and(|m| m.contains("no such API path"));
        assert!(
            !fallback && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}: {status} {v}"
        );
    }
}

/// The ID prefix the document gives an operation's `{id}`, or "" without one.
fn ops_prefix(doc: &Value, method: &str, path: &str) -> String {
    let params = &doc["paths"][path][method.to_lowercase()]["parameters"];
    params
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "id")
        .and_then(|p| p["schema"]["pattern"].as_str())
        .and_then(|pattern| pattern.trim_start_matches('^').split('_').next())
        .unwrap_or("")
        .to_string()
}

/// Every field a resource answers is in its schema, and every schema field is answered.
#[tokio::test]
async fn answers_have_the_fields_their_schemas_name() {
    let api = Api::new().await;
    let doc = crate::openapi::document("https://api.test");
    let ca = self_signed(true);
    let leaf = self_signed(false);
    for (path, schema, body) in [
        ("/api_keys", "ApiKey", json!({})),
        ("/bot_users", "BotUser", json!({})),
        ("/credentials", "Credential", json!({})),
        (
            "/agent_ingresses",
            "AgentIngress",
            json!({ "domain": "connect.example.test" }),
        ),
        (
            "/reserved_domains",
            "ReservedDomain",
            json!({ "domain": "app.example.test" }),
        ),
        ("/reserved_addrs", "ReservedAddr", json!({})),
        (
            "/certificate_authorities",
            "CertificateAuthority",
            json!({ "ca_pem": ca.cert.pem() }),
        ),
        (
            "/tls_certificates",
            "TlsCertificate",
            json!({
                "certificate_pem": leaf.cert.pem(),
                "private_key_pem": leaf.key_pair.serialize_pem(),
            }),
        ),
    ] {
        let (status, v) = api.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
        let mut answered: Vec<&String> = v.as_object().expect("object").keys().collect();
        let mut named: Vec<&String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .expect("schema")
            .keys()
            .collect();
        answered.sort();
        named.sort();
        assert_eq!(answered, named, "{path}");
    }
}

/// Every write to what DNS answers (agent ingresses, reserved domains) asks the edge for
/// new zones before the API answers; other writes do not.
#[tokio::test]
async fn writes_to_dns_names_rebuild_the_zones_before_answering() {
    let live = Arc::new(Edge::default());
    let api = Api::with_live(live.clone()).await;
    let count = || live.dns_rebuilds.load(Ordering::SeqCst);
    for (path, body) in [
        (
            "/agent_ingresses",
            json!({ "domain": "connect.example.test" }),
        ),
        ("/reserved_domains", json!({ "domain": "*.c.example.test" })),
    ] {
        let before = count();
        let (status, made) = api.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(count(), before + 1, "create {path}");
        let item = format!("{path}/{}", made["id"].as_str().expect("id"));
        let (status, v) = api
            .call(Method::PATCH, &item, Some(json!({ "description": "d" })))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(count(), before + 2, "update {path}");
        let (status, _) = api.call(Method::DELETE, &item, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(count(), before + 3, "delete {path}");
    }
    let before = count();
    let (status, _) = api
        .call(Method::POST, "/bot_users", Some(json!({ "name": "ci" })))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(count(), before);
}

#[tokio::test]
async fn check_status_of_a_wildcard_domain_names_each_record_and_its_mistake() {
    let api = Api::new().await;
    let (_, d) = api
        .call(
            Method::POST,
            "/reserved_domains",
            Some(json!({ "domain": "*.customer1.example.com" })),
        )
        .await;
    let id = d["id"].as_str().expect("id");
    let cname = d["cname_target"].as_str().expect("cname_target");
    let acme = d["acme_challenge_cname_target"].as_str().expect("acme");
    let path = format!("/reserved_domains/{id}/dns_check");

    let (status, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["checked_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );
    let records = v["records"].as_array().expect("records");
    assert_eq!(records.len(), 2, "{v}");
    assert_eq!(records[0]["name"], "*.customer1.example.com");
    assert_eq!(records[0]["type"], "CNAME");
    assert_eq!(records[0]["expected"], cname);
    assert_eq!(records[0]["found"], json!([]));
    assert_eq!(records[0]["error_code"], "ERR_NGROK_425");
    assert!(
        records[0]["msg"]
            .as_str()
            .unwrap()
            .ends_with("[ERR_FERRY_260]"),
        "{v}"
    );
    assert_eq!(records[1]["name"], "_acme-challenge.customer1.example.com");
    assert_eq!(records[1]["expected"], acme);
    assert_eq!(records[1]["error_code"], "ERR_NGROK_442");

    api.dns("*.customer1.example.com", Kind::Cname, found(&[cname]));
    api.dns(
        "_acme-challenge.customer1.example.com",
        Kind::Cname,
        found(&["elsewhere.example.net"]),
    );
    let (_, v) = api.call(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(v["records"][0]["ok"], true, "{v}");
    assert_eq!(v["records"][0]["error_code"], Value::Null, "{v}");
    assert_eq!(v["records"][1]["ok"], false, "{v}");
    assert_eq!(v["records"][1]["found"], json!(["elsewhere.example.net"]));
    assert_eq!(v["records"][1]["error_code"], "ERR_NGROK_444");
    assert_eq!(v["ok"], false);

    api.dns(
        "_acme-challenge.customer1.example.com",
        Kind::Cname,
        found(&[acme]),
    );
    let (_, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(v["ok"], true, "{v}");

    api.dns(
        "*.customer1.example.com",
        Kind::Cname,
        Answer::Failed("no answer".into()),
    );
    let (status, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["records"][0]["error_code"], "ERR_FERRY_270", "{v}");
    assert_eq!(v["ok"], false);

    let (status, v) = api
        .call(Method::POST, &path, Some(json!({ "force": true })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn check_status_of_a_domain_under_the_base_domain_has_nothing_to_check() {
    let api = Api::new().await;
    let (_, d) = api
        .call(
            Method::POST,
            "/reserved_domains",
            Some(json!({ "domain": "app.ferry.test" })),
        )
        .await;
    let path = format!(
        "/reserved_domains/{}/dns_check",
        d["id"].as_str().expect("id")
    );
    let (status, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((&v["ok"], &v["records"]), (&json!(true), &json!([])), "{v}");
}

#[tokio::test]
async fn check_status_of_an_agent_ingress_compares_its_ns_set() {
    let api = Api::new().await;
    let (_, a) = api
        .call(
            Method::POST,
            "/agent_ingresses",
            Some(json!({ "domain": "connect.example.com" })),
        )
        .await;
    let path = format!(
        "/agent_ingresses/{}/dns_check",
        a["id"].as_str().expect("id")
    );
    let (_, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(v["records"][0]["type"], "NS", "{v}");
    assert_eq!(
        v["records"][0]["expected"],
        json!(["ns1.ferry.test", "ns2.ferry.test"])
    );
    assert_eq!(v["records"][0]["error_code"], "ERR_NGROK_6702", "{v}");
    api.dns(
        "connect.example.com",
        Kind::Ns,
        found(&["ns1.ferry.test", "ns3.other.test"]),
    );
    let (_, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(v["records"][0]["error_code"], "ERR_NGROK_6703", "{v}");
    api.dns(
        "connect.example.com",
        Kind::Ns,
        found(&["ns2.ferry.test", "ns1.ferry.test"]),
    );
    let (_, v) = api.call(Method::POST, &path, None).await;
    assert_eq!(v["ok"], true, "{v}");
    let (status, v) = api
        .call(
            Method::POST,
            "/agent_ingresses/agin_000000000000000000000000000/dns_check",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn metrics_need_an_api_key_but_no_ngrok_version() {
    use crate::test_support::answer;
    use axum::body::Body;
    use axum::http::Request;
    let api = Api::new().await;
    let get = |key: Option<&str>| {
        let mut req = Request::builder().uri("/metrics");
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        req.body(Body::empty()).unwrap()
    };
    let app = || crate::router(api.state.clone());
    let (status, headers, body) = answer(app(), get(Some(&api.key))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], ferry_metrics::CONTENT_TYPE);
    assert!(String::from_utf8_lossy(&body).contains("ferry_edge_binds_total"));
    let (status, _, body) = answer(app(), get(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(String::from_utf8_lossy(&body).contains("ERR_FERRY_"));
    let (status, _, _) = answer(app(), get(Some("not-a-key"))).await;
    assert!(status.is_client_error());
    let (_, spec) = api.call(Method::GET, "/openapi.json", None).await;
    assert!(
        spec["paths"].get("/metrics").is_none(),
        "not an ngrok operation"
    );
}
