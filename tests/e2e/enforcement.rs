//! What the control plane's records do at the edge: ACLs and reservations refuse binds (for
//! Ferry's agent and ngrok's SDK alike), deleting a credential or deactivating its bot closes
//! live sessions, the live views list what is bound, and agent ingress domains take agents.

use std::sync::Arc;
use std::time::Duration;

use ngrok::prelude::*;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::harness::{curl, eventually, Agent, Edge};
use crate::sdk::sdk_session;
use crate::served_certs::{reserve, upload_and_attach};
use crate::upstream::HttpUpstream;

/// A bot and an authtoken it owns, with `acl`; returns (bot ID, credential ID, token).
pub(crate) async fn bot_token(edge: &Edge, acl: &[&str]) -> (String, String, String) {
    let (status, bot) = edge
        .api("POST", "/bot_users", Some(r#"{"name":"site bot"}"#))
        .await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_str().unwrap().to_string();
    let body = json!({ "owner_id": bot, "acl": acl }).to_string();
    let (status, cred) = edge.api("POST", "/credentials", Some(&body)).await;
    assert_eq!(status, 201, "{cred}");
    (
        bot,
        cred["id"].as_str().unwrap().to_string(),
        cred["token"].as_str().unwrap().to_string(),
    )
}

pub(crate) async fn serves(edge: &Edge, host: &str) -> bool {
    let mut args = edge.curl_https(host, "/");
    args.push("--fail".into());
    curl(&args).await.0 == 0
}

/// An agent with `token` serving `up` on `domain`, online.
async fn http_agent(edge: &Edge, token: &str, up: &HttpUpstream, domain: &str) -> Agent {
    edge.agent_as(token, "http", &[&up.port(), "--domain", domain])
        .await
}

/// Runs an agent whose bind the edge must refuse: it exits with status 1 by itself.
/// Returns what it printed.
async fn refused_agent(edge: &Edge, token: &str, verb: &str, args: &[&str]) -> String {
    let mut refused = edge.spawn_agent_as(token, verb, args);
    let status = refused.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", refused.output());
    refused.output()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_outside_the_acl_is_refused_for_ferry_and_the_ngrok_sdk() {
    let edge = Edge::start().await;
    let (_, cred, token) = bot_token(&edge, &["bind:*.customer1.example.test"]).await;
    let up = HttpUpstream::start("acl").await;
    let _ok = http_agent(&edge, &token, &up, "app.customer1.example.test").await;
    assert!(serves(&edge, "app.customer1.example.test").await);

    let out = refused_agent(
        &edge,
        &token,
        "http",
        &[&up.port(), "--domain", "app.customer2.example.test"],
    )
    .await;
    assert!(
        out.contains("ERR_FERRY_316") && out.contains("bind:*.customer1.example.test"),
        "{out}"
    );

    let sess = sdk_session(&edge, &token).await.expect("SDK connects");
    let err = sess
        .http_endpoint()
        .domain("app.customer2.example.test")
        .listen()
        .await
        .err()
        .expect("the ACL refuses the SDK's bind");
    let text = format!("{err:?}");
    assert!(
        text.contains("ERR_NGROK_316") && text.contains("ERR_FERRY_316"),
        "{text}"
    );

    // A new ACL applies to the next bind of the same live session.
    let body = r#"{"acl":["bind:*.customer2.example.test"]}"#;
    let (status, v) = edge
        .api("PATCH", &format!("/credentials/{cred}"), Some(body))
        .await;
    assert_eq!(status, 200, "{v}");
    sess.http_endpoint()
        .domain("app.customer2.example.test")
        .listen()
        .await
        .expect("the widened ACL allows the bind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_dev_mode_only_reserved_names_bind() {
    let edge = Edge::start_production(&["--tcp-ports", "30101-30102"]).await;
    let (_, _, token) = bot_token(&edge, &[]).await;
    // Outside dev mode a name is served only with a certificate Ferry holds: here uploaded
    // ones the installation's CA signed, which the harness's curl trusts.
    let ca = ferry_pki::DevCa::load_or_create(&edge.dir.path().join("data")).unwrap();
    for domain in ["*.customer1.example.test", "exact.example.test"] {
        let rd = reserve(&edge, domain).await;
        let issued = ca.issue_server(&[domain.to_string()]).unwrap();
        upload_and_attach(
            &edge,
            &issued.cert_pem,
            &issued.key_pem,
            rd["id"].as_str().unwrap(),
        )
        .await;
    }

    let up = HttpUpstream::start("reserved").await;
    let _deep = http_agent(&edge, &token, &up, "api.customer1.example.test").await;
    let _exact = http_agent(&edge, &token, &up, "exact.example.test").await;
    assert!(serves(&edge, "api.customer1.example.test").await);
    assert!(serves(&edge, "exact.example.test").await);

    let out = refused_agent(
        &edge,
        &token,
        "http",
        &[&up.port(), "--domain", "app.customer2.example.test"],
    )
    .await;
    assert!(
        out.contains("ERR_FERRY_319") && out.contains("reserved domains"),
        "{out}"
    );

    // TCP: a requested address binds only when reserved. (The range stays below the
    // kernel's ephemeral ports, which outgoing connections may hold.)
    let (status, ra) = edge.api("POST", "/reserved_addrs", Some("{}")).await;
    assert_eq!(status, 201, "{ra}");
    let addr = ra["addr"].as_str().unwrap();
    let echo = crate::upstream::TcpEcho::start().await;
    let port = echo.addr.port().to_string();
    let tcp = edge
        .agent_as(&token, "tcp", &[&port, "--remote-addr", addr])
        .await;
    assert_eq!(tcp.url(), format!("tcp://{addr}"));
    let (lo, _) = addr.rsplit_once(':').unwrap();
    let unreserved = if addr.ends_with(":30101") {
        "30102"
    } else {
        "30101"
    };
    let out = refused_agent(
        &edge,
        &token,
        "tcp",
        &[&port, "--remote-addr", &format!("{lo}:{unreserved}")],
    )
    .await;
    assert!(out.contains("ERR_FERRY_311"), "{out}");

    let sess = sdk_session(&edge, &token).await.expect("SDK connects");
    let err = sess
        .http_endpoint()
        .domain("x.exact.example.test")
        .listen()
        .await
        .err()
        .expect("an unreserved name is refused");
    let text = format!("{err:?}");
    assert!(text.contains("ERR_NGROK_319"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_credential_or_its_bot_closes_live_sessions() {
    let edge = Edge::start().await;
    let (_, cred, token) = bot_token(&edge, &[]).await;
    let (bot2, _, token2) = bot_token(&edge, &[]).await;
    let up = HttpUpstream::start("revoked").await;
    let _a = http_agent(&edge, &token, &up, "revoke.example.test").await;
    let _b = http_agent(&edge, &token2, &up, "bot.example.test").await;
    assert!(serves(&edge, "revoke.example.test").await);
    assert!(serves(&edge, "bot.example.test").await);

    // The live views show both.
    let (status, v) = edge.api("GET", "/tunnel_sessions", None).await;
    assert_eq!(status, 200, "{v}");
    let sessions = v["tunnel_sessions"].as_array().unwrap();
    let mine = sessions
        .iter()
        .find(|s| s["credential"]["id"] == cred.as_str())
        .expect("the session is listed");
    let ts = mine["id"].as_str().unwrap();
    assert!(ts.starts_with("ts_"), "{mine}");
    let (status, one) = edge
        .api("GET", &format!("/tunnel_sessions/{ts}"), None)
        .await;
    assert_eq!((status, &one["id"]), (200, &Value::from(ts)), "{one}");
    let (_, tunnels) = edge.api("GET", "/tunnels", None).await;
    let tn = tunnels["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tunnel_session"]["id"] == ts)
        .expect("the tunnel is listed")
        .clone();
    assert!(
        tn["public_url"]
            .as_str()
            .unwrap()
            .contains("revoke.example.test"),
        "{tn}"
    );
    let ep = tn["endpoint"]["id"].as_str().unwrap();
    let (status, e) = edge.api("GET", &format!("/endpoints/{ep}"), None).await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["type"], "ephemeral");
    assert_eq!(e["url"], tn["public_url"]);

    let (status, _) = edge
        .api("DELETE", &format!("/credentials/{cred}"), None)
        .await;
    assert_eq!(status, 204);
    eventually(
        "the revoked session to close",
        Duration::from_secs(5),
        || async { !serves(&edge, "revoke.example.test").await },
    )
    .await;
    let (_, v) = edge
        .api("GET", &format!("/tunnel_sessions/{ts}"), None)
        .await;
    assert_eq!(v["status_code"], 404, "{v}");

    let (status, v) = edge
        .api(
            "PATCH",
            &format!("/bot_users/{bot2}"),
            Some(r#"{"active":false}"#),
        )
        .await;
    assert_eq!((status, &v["active"]), (200, &Value::Bool(false)), "{v}");
    eventually(
        "the deactivated bot's session to close",
        Duration::from_secs(5),
        || async { !serves(&edge, "bot.example.test").await },
    )
    .await;
    // Neither token authenticates again.
    for t in [&token, &token2] {
        let err = sdk_session(&edge, t).await.err().expect("refused");
        assert!(format!("{err:?}").contains("ERR_NGROK_107"), "{err:?}");
    }
}

/// The ALPN protocol the edge picks for `sni`: the agent ingress offers none, the HTTPS
/// endpoints offer h2 and http/1.1; an error when the handshake fails.
async fn alpn_for(edge: &Edge, sni: &str) -> Result<Option<Vec<u8>>, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ferry_pki::load_ca_certs(&edge.ca).unwrap() {
        roots.add(c).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", edge.https_port()))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from(sni.to_string()).unwrap(), tcp)
        .await?;
    Ok(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_ingress_region_domains_take_agents_and_other_names_do_not() {
    let edge = Edge::start_production(&["--region", "eu"]).await;
    let name = "tunnel.eu.connect.example.test";
    assert!(
        alpn_for(&edge, name).await.is_err(),
        "outside dev mode a public name without a certificate gets no handshake"
    );
    let v = edge
        .created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    assert_eq!(v["region_domains"], json!([name]));
    assert_eq!(
        alpn_for(&edge, name).await.unwrap(),
        None,
        "the agent ingress owns {name}, with the installation's CA"
    );
    assert!(alpn_for(&edge, "tunnel.eu.connect.other.test")
        .await
        .is_err());
    let id = v["id"].as_str().unwrap();
    let (status, _) = edge
        .api("DELETE", &format!("/agent_ingresses/{id}"), None)
        .await;
    assert_eq!(status, 204);
    assert!(alpn_for(&edge, name).await.is_err());

    // A dev edge serves every other name as HTTPS.
    let dev = Edge::start().await;
    assert_eq!(
        alpn_for(&dev, "tunnel.eu.connect.other.test")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_at_the_edge_admits_only_clients_of_the_named_ca() {
    let edge = Edge::start().await;
    let certs = edge.dir.path().join("mtls-certs");
    let st = std::process::Command::new(crate::harness::BIN)
        .args([
            "certs",
            "generate",
            "--domain",
            "*.mtls.example.test",
            "--out",
        ])
        .arg(&certs)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let ca_pem = std::fs::read_to_string(certs.join("ca-crt.pem")).unwrap();
    let body = json!({ "ca_pem": ca_pem, "description": "device clients" }).to_string();
    let (status, ca) = edge
        .api("POST", "/certificate_authorities", Some(&body))
        .await;
    assert_eq!(status, 201, "{ca}");
    let ca_id = ca["id"].as_str().unwrap().to_string();

    let up = HttpUpstream::start("mtls").await;
    let sess = sdk_session(&edge, &edge.token).await.expect("SDK connects");
    let _by_id = sess
        .http_endpoint()
        .domain("api.mtls.example.test")
        .mutual_tlsca(bytes::Bytes::from(ca_id))
        .listen_and_forward(format!("http://{}", up.addr).parse().unwrap())
        .await
        .expect("a bind naming an uploaded CA");
    let _by_pem = sess
        .http_endpoint()
        .domain("pem.mtls.example.test")
        .mutual_tlsca(bytes::Bytes::from(ca_pem))
        .listen_and_forward(format!("http://{}", up.addr).parse().unwrap())
        .await
        .expect("a bind carrying the CA's PEM");

    let with_cert = |host: &str| {
        let mut args = edge.curl_https(host, "/");
        args.extend([
            "--cert".into(),
            certs.join("client-crt.pem").display().to_string(),
            "--key".into(),
            certs.join("client-key.pem").display().to_string(),
        ]);
        args
    };
    for host in ["api.mtls.example.test", "pem.mtls.example.test"] {
        let (code, out, err) = curl(&with_cert(host)).await;
        assert_eq!(
            (code, out.as_str()),
            (0, "hello from mtls"),
            "{host}: {err}"
        );
        let (code, out, _) = curl(&edge.curl_https(host, "/")).await;
        assert_ne!(code, 0, "{host} without a client certificate: {out}");
    }

    // Another name in SNI and the protected one in Host: refused, not forwarded.
    let mut fronted = edge.curl_https("other.example.test", "/");
    fronted.extend([
        "-H".into(),
        "Host: api.mtls.example.test".into(),
        "-w".into(),
        "\n%{http_code}".into(),
    ]);
    let (_, out, _) = curl(&fronted).await;
    assert!(
        out.contains("ERR_FERRY_809") && out.ends_with("403"),
        "{out}"
    );
    assert_eq!(up.requests.load(std::sync::atomic::Ordering::Relaxed), 2);

    let key = std::fs::read(certs.join("ca-key.pem")).unwrap();
    let err = sess
        .http_endpoint()
        .domain("key.mtls.example.test")
        .mutual_tlsca(bytes::Bytes::from(key))
        .listen()
        .await
        .err()
        .expect("a CA key is refused");
    let text = format!("{err:?}");
    assert!(
        text.contains("ERR_FERRY_312") && text.contains("private key"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_session_actions_reach_the_agent() {
    let edge = Edge::start().await;
    let (_, sdk_cred, sdk_token) = bot_token(&edge, &[]).await;
    let (_, ferry_cred, ferry_token) = bot_token(&edge, &[]).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (tx, mut stopped) = tokio::sync::mpsc::unbounded_channel();
    let _sess = ngrok::Session::builder()
        .authtoken(sdk_token)
        .server_addr(edge.agent_addr())
        .unwrap()
        .ca_cert(bytes::Bytes::from(std::fs::read(&edge.ca).unwrap()))
        .handle_stop_command(move |_req| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
                Ok(())
            }
        })
        .connect()
        .await
        .expect("SDK connects");
    let up = HttpUpstream::start("cmd").await;
    let _agent = http_agent(&edge, &ferry_token, &up, "cmd.example.test").await;

    let (_, v) = edge.api("GET", "/tunnel_sessions", None).await;
    let session_of = |cred: &str| {
        v["tunnel_sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["credential"]["id"] == cred)
            .map(|s| s["id"].as_str().unwrap().to_string())
            .expect("session listed")
    };
    let (sdk_ts, ferry_ts) = (session_of(&sdk_cred), session_of(&ferry_cred));

    let (status, v) = edge
        .api("POST", &format!("/tunnel_sessions/{sdk_ts}/stop"), None)
        .await;
    assert_eq!(status, 204, "{v}");
    tokio::time::timeout(Duration::from_secs(5), stopped.recv())
        .await
        .expect("the SDK's stop handler ran");

    // The SDK has no restart handler: its answer comes back as the error.
    let (status, v) = edge
        .api("POST", &format!("/tunnel_sessions/{sdk_ts}/restart"), None)
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error_code"], "ERR_FERRY_248", "{v}");

    let (status, v) = edge
        .api("POST", &format!("/tunnel_sessions/{ferry_ts}/stop"), None)
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("stop"), "{v}");
}
