//! The REST API over real HTTP with curl: the guides' calls as written (only the host
//! changed), every resource's life cycle with paging and errors, both databases, and writes
//! that survive a SIGKILL of the edge.

use serde_json::Value;

use crate::harness::{raw_api, Edge};

const DOMAIN: &str = "example.test";

/// A guide's curl: its exact flags and body, with `{API_KEY}` and `{YOUR_DOMAIN}` filled in
/// and `https://api.ngrok.com` replaced by the edge's API URL.
async fn guide_curl(edge: &Edge, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut args = vec![
        "-X".to_string(),
        method.into(),
        "-H".into(),
        format!("Authorization: Bearer {}", edge.api_key),
    ];
    if body.is_some() {
        args.extend(["-H".into(), "Content-Type: application/json".into()]);
    }
    args.extend(["-H".into(), "Ngrok-Version: 2".into()]);
    if let Some(b) = body {
        args.extend(["-d".into(), b.replace("{YOUR_DOMAIN}", DOMAIN)]);
    }
    raw_api(args, &format!("{}{path}", edge.api_url())).await
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["status_code"].is_u64(), "{v}");
    assert!(v["msg"].as_str().is_some_and(|m| m.contains(code)), "{v}");
    assert!(
        v["details"]["operation_id"]
            .as_str()
            .is_some_and(|o| o.starts_with("op_")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_rest_calls_answer_as_documented() {
    let edge = Edge::start().await;

    // As written, the agent ingress body has typographic quotes: a 400 that says so, where.
    let (status, v) = guide_curl(
        &edge,
        "POST",
        "/agent_ingresses",
        Some(r#"{"description":"{DESCRIPTION}","domain": “connect.{YOUR_DOMAIN}”}"#),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_212");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("typographic quote") && msg.contains("line 1, column 42"),
        "{msg}"
    );

    let (status, v) = guide_curl(
        &edge,
        "POST",
        "/agent_ingresses",
        Some(r#"{"description":"Custom ingress address","domain": "connect.{YOUR_DOMAIN}"}"#),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("agin_") && id.len() == 32, "{v}");
    assert_eq!(v["uri"], format!("/agent_ingresses/{id}"));
    assert_eq!(v["domain"], "connect.example.test");
    assert_eq!(v["description"], "Custom ingress address");
    assert_eq!(
        v["ns_targets"],
        serde_json::json!(["ns1.ferry.localhost", "ns2.ferry.localhost"])
    );
    assert_eq!(
        v["region_domains"],
        serde_json::json!(["tunnel.local.connect.example.test"])
    );
    assert!(v["certificate_management_policy"].is_null());
    assert!(v["certificate_management_status"].is_null());
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, v) = guide_curl(&edge, "GET", "/agent_ingresses", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ingresses"][0]["id"], id);
    assert_eq!(v["uri"], format!("{}/agent_ingresses", edge.api_url()));
    assert!(v["next_page_uri"].is_null());

    let (status, v) = guide_curl(
        &edge,
        "POST",
        "/reserved_domains",
        Some(r#"{"domain":"*.customer1.{YOUR_DOMAIN}","region":"us"}"#),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let rd = v["id"].as_str().unwrap();
    assert!(rd.starts_with("rd_"), "{v}");
    assert_eq!(
        v["uri"],
        format!("{}/reserved_domains/{rd}", edge.api_url())
    );
    assert_eq!(v["domain"], "*.customer1.example.test");
    assert_eq!(v["region"], "");
    assert!(
        v["cname_target"].as_str().is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    assert!(v["acme_challenge_cname_target"].as_str().is_some(), "{v}");
    assert!(v["certificate"].is_null());
    assert!(v["http_endpoint_configuration"].is_null());
    assert_eq!(
        v["certificate_management_policy"],
        serde_json::json!({"authority":"letsencrypt","private_key_type":"ecdsa"})
    );
    let job = &v["certificate_management_status"]["provisioning_job"];
    assert_eq!(job["msg"], "Managed certificate provisioning in progress.");
    assert!(job["error_code"].is_null() && job["retries_at"].is_null());
    assert!(v["certificate_management_status"]["renews_at"].is_null());

    let (status, v) = guide_curl(
        &edge,
        "POST",
        "/bot_users",
        Some(r#"{"name":"new bot user from API"}"#),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let bot = v["id"].as_str().unwrap().to_string();
    assert!(bot.starts_with("bot_"));
    assert_eq!(v["name"], "new bot user from API");
    assert_eq!(v["active"], true);
    assert_eq!(v["uri"], format!("{}/bot_users/{bot}", edge.api_url()));

    // The dashboard step of the guide, through the API: a bot-owned token with a bind ACL.
    let (status, v) = guide_curl(
        &edge,
        "POST",
        "/credentials",
        Some(&format!(
            r#"{{"owner_id":"{bot}","acl":["bind:*.customer1.{{YOUR_DOMAIN}}"]}}"#
        )),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["owner_id"], bot);
    assert_eq!(
        v["acl"],
        serde_json::json!(["bind:*.customer1.example.test"])
    );
    let token = v["token"].as_str().unwrap();
    let cr = v["id"].as_str().unwrap();
    assert!(token.starts_with(cr.trim_start_matches("cr_")));
    let (_, v) = edge.api("GET", &format!("/credentials/{cr}"), None).await;
    assert!(v["token"].is_null(), "the token is shown only once: {v}");
}

/// One resource's create body and PATCH body.
struct Resource {
    path: &'static str,
    list_key: &'static str,
    prefix: &'static str,
    create: fn(usize) -> String,
    patch: &'static str,
}

fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Ferry test CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    p.self_signed(&key).unwrap().pem()
}

fn leaf() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let p = rcgen::CertificateParams::new(vec!["leaf.example.test".to_string()]).unwrap();
    (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn resources() -> Vec<Resource> {
    vec![
        Resource {
            path: "/api_keys",
            list_key: "keys",
            prefix: "ak_",
            create: |i| format!(r#"{{"description":"key {i}"}}"#),
            patch: r#"{"description":"changed"}"#,
        },
        Resource {
            path: "/bot_users",
            list_key: "bot_users",
            prefix: "bot_",
            create: |i| format!(r#"{{"name":"bot {i}"}}"#),
            patch: r#"{"name":"changed"}"#,
        },
        Resource {
            path: "/credentials",
            list_key: "credentials",
            prefix: "cr_",
            create: |i| format!(r#"{{"description":"tok {i}","acl":["bind:a{i}.example.test"]}}"#),
            patch: r#"{"description":"changed","acl":[]}"#,
        },
        Resource {
            path: "/agent_ingresses",
            list_key: "ingresses",
            prefix: "agin_",
            create: |i| format!(r#"{{"domain":"connect{i}.example.test"}}"#),
            patch: r#"{"description":"changed"}"#,
        },
        Resource {
            path: "/reserved_domains",
            list_key: "reserved_domains",
            prefix: "rd_",
            create: |i| format!(r#"{{"domain":"app{i}.example.test"}}"#),
            patch: r#"{"description":"changed","resolves_to":[]}"#,
        },
        Resource {
            path: "/reserved_addrs",
            list_key: "reserved_addrs",
            prefix: "ra_",
            create: |i| format!(r#"{{"description":"addr {i}","region":"eu"}}"#),
            patch: r#"{"description":"changed"}"#,
        },
        Resource {
            path: "/certificate_authorities",
            list_key: "certificate_authorities",
            prefix: "ca_",
            create: |_| serde_json::json!({ "ca_pem": ca_pem() }).to_string(),
            patch: r#"{"description":"changed"}"#,
        },
        Resource {
            path: "/tls_certificates",
            list_key: "tls_certificates",
            prefix: "cert_",
            create: |_| {
                let (c, k) = leaf();
                serde_json::json!({ "certificate_pem": c, "private_key_pem": k }).to_string()
            },
            patch: r#"{"description":"changed"}"#,
        },
    ]
}

/// Create three, page through them two at a time by the absolute `next_page_uri`, read,
/// update, delete, and meet the errors: a missing ID, a malformed ID, an unknown field.
async fn life_cycles(edge: &Edge) {
    for r in resources() {
        let mut made = Vec::new();
        for i in 0..3 {
            let (status, v) = edge.api("POST", r.path, Some(&(r.create)(i))).await;
            assert_eq!(status, 201, "{} create: {v}", r.path);
            let id = v["id"].as_str().unwrap().to_string();
            assert!(id.starts_with(r.prefix), "{v}");
            made.push(id);
        }
        let mut seen = Vec::new();
        let mut next = format!("{}?limit=2", r.path);
        loop {
            let (status, v) = edge.api("GET", &next, None).await;
            assert_eq!(status, 200, "{} list: {v}", r.path);
            for item in v[r.list_key].as_array().expect("list key") {
                seen.push(item["id"].as_str().unwrap().to_string());
            }
            match v["next_page_uri"].as_str() {
                Some(n) => {
                    assert!(
                        n.starts_with("http://"),
                        "next_page_uri must be absolute: {n}"
                    );
                    next = n.to_string();
                }
                None => break,
            }
        }
        for id in &made {
            assert!(seen.contains(id), "{} list misses {id}: {seen:?}", r.path);
        }
        let pos: Vec<usize> = made
            .iter()
            .map(|id| seen.iter().position(|s| s == id).unwrap())
            .collect();
        assert!(pos[0] > pos[1] && pos[1] > pos[2], "newest first: {seen:?}");

        let id = &made[0];
        let one = format!("{}/{id}", r.path);
        let (status, v) = edge.api("GET", &one, None).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["id"], id.as_str());
        let (status, v) = edge.api("PATCH", &one, Some(r.patch)).await;
        assert_eq!(status, 200, "{} patch: {v}", r.path);
        let changed = v["description"].as_str().or(v["name"].as_str());
        assert_eq!(changed, Some("changed"), "{v}");
        let (status, v) = edge.api("PATCH", &one, Some(r#"{"bogus":1}"#)).await;
        assert_eq!(status, 400, "{v}");
        assert_error(&v, "ERR_FERRY_214");
        assert!(v["msg"].as_str().unwrap().contains("bogus"), "{v}");
        let (status, v) = edge.api("DELETE", &one, None).await;
        assert_eq!(status, 204, "{v}");
        assert!(v.is_null());
        let (status, v) = edge.api("GET", &one, None).await;
        assert_eq!(status, 404, "{v}");
        assert_error(&v, "ERR_FERRY_240");
        let (status, v) = edge
            .api("GET", &format!("{}/{}nope", r.path, r.prefix), None)
            .await;
        assert_eq!(status, 400, "{v}");
        assert_error(&v, "ERR_FERRY_223");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_lives_pages_and_errs_on_sqlite() {
    let edge = Edge::start().await;
    life_cycles(&edge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_lives_pages_and_errs_on_postgres() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let edge = Edge::start_with(&["--database-url", &url]).await;
    life_cycles(&edge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_the_code_and_the_cause() {
    let edge = Edge::start().await;
    let url = format!("{}/bot_users", edge.api_url());
    let key = format!("Authorization: Bearer {}", edge.api_key);
    let h = |s: &str| vec!["-H".to_string(), s.to_string()];

    let (status, v) = raw_api(h("Ngrok-Version: 2"), &url).await;
    assert_eq!(status, 401, "{v}");
    assert_error(&v, "ERR_FERRY_200");
    let (status, v) = raw_api(
        [h("Authorization: Bearer nope"), h("Ngrok-Version: 2")].concat(),
        &url,
    )
    .await;
    assert_eq!(status, 401, "{v}");
    assert_error(&v, "ERR_FERRY_201");
    let authtoken = format!("Authorization: Bearer {}", edge.token);
    let (status, v) = raw_api([h(&authtoken), h("Ngrok-Version: 2")].concat(), &url).await;
    assert_eq!(status, 403, "{v}");
    assert_error(&v, "ERR_FERRY_203");
    let (status, v) = raw_api(h(&key), &url).await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_218");
    assert_eq!(v["details"]["ngrok_error_code"], "ERR_NGROK_218");
    let (status, v) = raw_api([h(&key), h("Ngrok-Version: 1")].concat(), &url).await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_217");

    let (status, v) = edge
        .api("POST", "/bot_users", Some(r#"{"name":"x",}"#))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("trailing comma"), "{v}");
    let (status, v) = edge.api("POST", "/bot_users", Some(r#"{"name":"x""#)).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("missing"), "{v}");
    let (status, v) = edge
        .api("POST", "/bot_users", Some(r#"{"active":"yes"}"#))
        .await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_215");
    assert!(v["msg"].as_str().unwrap().contains("\"active\""), "{v}");
    let (status, v) = edge
        .api("POST", "/credentials", Some(r#"{"acl":["connect:x"]}"#))
        .await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_244");
    let (status, v) = edge
        .api(
            "POST",
            "/reserved_domains",
            Some(r#"{"domain":"a.*.example.test"}"#),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_245");
    let (status, v) = edge
        .api("POST", "/reserved_domains", Some(r#"{"domain":""}"#))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("\"domain\""), "{v}");
    let (_, v) = edge
        .api(
            "POST",
            "/reserved_domains",
            Some(r#"{"domain":"dup.example.test"}"#),
        )
        .await;
    assert!(v["id"].is_string(), "{v}");
    let (status, v) = edge
        .api(
            "POST",
            "/reserved_domains",
            Some(r#"{"domain":"dup.example.test"}"#),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = edge.api("GET", "/bot_users?limit=101", None).await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_233");
    let (status, v) = edge.api("GET", "/bot_users?colour=blue", None).await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "ERR_FERRY_231");
    let key_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let body = serde_json::json!({ "ca_pem": key_pem }).to_string();
    let (status, v) = edge
        .api("POST", "/certificate_authorities", Some(&body))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("private key"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let mut edge = Edge::start().await;
    let mut made = Vec::new();
    for r in resources() {
        for i in 0..2 {
            let (status, v) = edge.api("POST", r.path, Some(&(r.create)(i + 10))).await;
            assert_eq!(status, 201, "{v}");
            made.push(format!("{}/{}", r.path, v["id"].as_str().unwrap()));
        }
    }
    edge.kill_and_restart().await;
    for path in &made {
        let (status, v) = edge.api("GET", path, None).await;
        assert_eq!(status, 200, "{path} lost after kill -9: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_made_offline_work_and_certificates_are_described() {
    let edge = Edge::start().await;
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "edge",
            "api-key",
            "create",
            "--description",
            "offline",
            "--data-dir",
        ])
        .arg(edge.dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = format!("{}/api_keys", edge.api_url());
    let auth = format!("Authorization: Bearer {}", made["token"].as_str().unwrap());
    let (status, v) = raw_api(
        vec!["-H".into(), auth, "-H".into(), "Ngrok-Version: 2".into()],
        &url,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == made["id"]),
        "{v}"
    );

    let body = serde_json::json!({ "ca_pem": ca_pem(), "description": "devices" }).to_string();
    let (status, v) = edge
        .api("POST", "/certificate_authorities", Some(&body))
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["subject_common_name"], "Ferry test CA");
    assert_eq!(v["key_usages"], serde_json::json!(["cert_sign"]));
    assert!(v["not_before"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(
        v["not_after"].is_string() && v["extended_key_usages"].is_array(),
        "{v}"
    );

    let (c, k) = leaf();
    let body = serde_json::json!({ "certificate_pem": c, "private_key_pem": k }).to_string();
    let (status, v) = edge.api("POST", "/tls_certificates", Some(&body)).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["subject_alternative_names"]["dns_names"],
        serde_json::json!(["leaf.example.test"])
    );
    assert_eq!(v["private_key_type"], "ecdsa");
    assert!(
        v.get("private_key_pem").is_none(),
        "the key is never returned: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_public_and_names_every_resource() {
    let edge = Edge::start().await;
    let (status, doc) = raw_api(vec![], &format!("{}/openapi.json", edge.api_url())).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], edge.api_url());
    for r in resources() {
        assert!(
            doc["paths"][r.path]["post"].is_object(),
            "{} create",
            r.path
        );
        assert!(
            doc["paths"][format!("{}/{{id}}", r.path)]["patch"].is_object(),
            "{}",
            r.path
        );
    }
    for live in ["/tunnel_sessions", "/tunnels", "/endpoints"] {
        assert!(doc["paths"][live]["get"].is_object(), "{live}");
    }
}

/// `ferry api ...` with the key from the environment; returns the exit code and the JSON.
fn ferry_api(edge: &Edge, args: &[&str]) -> (Option<i32>, Value) {
    let out = std::process::Command::new(crate::harness::BIN)
        .arg("api")
        .args(["--api-url", &edge.api_url()])
        .args(args)
        .env("FERRY_API_KEY", &edge.api_key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (out.status.code(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_api_drives_the_rest_api_like_ngrok_api() {
    let edge = Edge::start().await;
    let (code, bot) = ferry_api(&edge, &["bot-users", "create", "--name", "cli bot"]);
    assert_eq!(code, Some(0), "{bot}");
    let bot_id = bot["id"].as_str().unwrap();
    let (code, cred) = ferry_api(
        &edge,
        &[
            "credentials",
            "create",
            "--owner-id",
            bot_id,
            "--acl",
            "bind:a.example.test",
            "--acl",
            "bind:*.b.example.test",
        ],
    );
    assert_eq!(code, Some(0), "{cred}");
    assert_eq!(
        cred["acl"],
        serde_json::json!(["bind:a.example.test", "bind:*.b.example.test"])
    );
    let cr = cred["id"].as_str().unwrap();
    let (code, v) = ferry_api(
        &edge,
        &["credentials", "update", cr, "--description=renamed"],
    );
    assert_eq!(
        (code, &v["description"]),
        (Some(0), &Value::from("renamed")),
        "{v}"
    );
    let (code, v) = ferry_api(&edge, &["bot-users", "update", bot_id, "--active", "false"]);
    assert_eq!((code, &v["active"]), (Some(0), &Value::Bool(false)), "{v}");
    let (code, v) = ferry_api(&edge, &["credentials", "list", "--limit", "1"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["credentials"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["next_page_uri"].is_string(),
        "the dev token is older: {v}"
    );
    let (code, _) = ferry_api(&edge, &["credentials", "delete", cr]);
    assert_eq!(code, Some(0));
    let (code, v) = ferry_api(&edge, &["credentials", "get", cr]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["error_code"], "ERR_FERRY_240");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let mut edge = Edge::start_with(&["--database-url", &url]).await;
    let v = edge
        .created("/reserved_domains", r#"{"domain":"*.pg.example.test"}"#)
        .await;
    let path = format!("/reserved_domains/{}", v["id"].as_str().unwrap());
    edge.kill_and_restart().await;
    let (status, v) = edge.api("GET", &path, None).await;
    assert_eq!(status, 200, "{path} lost after kill -9: {v}");
    assert_eq!(v["domain"], "*.pg.example.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uris_come_from_the_configured_public_base() {
    let edge = Edge::start_with(&["--api-public-url", "https://api.ferry.example.test/"]).await;
    for i in 0..2 {
        let (status, v) = edge
            .api("POST", "/bot_users", Some(&format!(r#"{{"name":"b{i}"}}"#)))
            .await;
        assert_eq!(status, 201, "{v}");
        assert!(
            v["uri"]
                .as_str()
                .unwrap()
                .starts_with("https://api.ferry.example.test/bot_users/bot_"),
            "{v}"
        );
    }
    let (_, v) = edge.api("GET", "/bot_users?limit=1", None).await;
    assert_eq!(v["uri"], "https://api.ferry.example.test/bot_users");
    let next = v["next_page_uri"].as_str().unwrap();
    assert!(
        next.starts_with("https://api.ferry.example.test/bot_users?before_id=bot_")
            && next.ends_with("&limit=1"),
        "{next}"
    );
}
