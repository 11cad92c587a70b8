//! The local agent API as the guides use it: tunnels started with curl (through the public
//! `agent-api` tunnel too), their errors, captures and replay.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{curl, eventually, free_port, wait_ready, Edge, Proc};
use crate::upstream::HttpUpstream;

/// An agent with its API on a port picked here, so a config file can point a tunnel at it.
pub struct ApiAgent {
    /// Kept so the agent lives (and is killed) with this value.
    _proc: Proc,
    pub web: String,
}

pub async fn api_agent(
    edge: &Edge,
    extra_yaml: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> ApiAgent {
    let web_port = free_port();
    let dir = edge.dir.path();
    let n = rand_suffix();
    let cfg = dir.join(format!("agent-{n}.yml"));
    std::fs::write(
        &cfg,
        format!(
            "version: \"2\"\nauthtoken: {}\nserver_addr: {}\nroot_cas: {}\nweb_addr: 127.0.0.1:{web_port}\n{extra_yaml}",
            edge.token,
            edge.agent_addr(),
            edge.ca.display()
        ),
    )
    .unwrap();
    let ready = dir.join(format!("agent-{n}-ready.json"));
    let mut all: Vec<String> = vec!["start".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend([
        "--config".into(),
        cfg.display().to_string(),
        "--ready-file".into(),
        ready.display().to_string(),
    ]);
    let mut proc = Proc::spawn(&format!("apiagent{n}"), &all, dir, env);
    let r = wait_ready(&mut proc, &ready).await;
    ApiAgent {
        _proc: proc,
        web: r["web_addr"].as_str().unwrap().to_string(),
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// curl with `-w` appending the status on its own line; returns (status, body).
pub(crate) async fn call(args: Vec<String>) -> (u16, String) {
    let mut all = vec!["-w".to_string(), "\n%{http_code}".into()];
    all.extend(args);
    let (_, out, _) = curl(&all).await;
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.parse().unwrap_or(0), body.to_string())
}

pub(crate) fn post(url: &str, body: &str) -> Vec<String> {
    vec![
        "-X".into(),
        "POST".into(),
        "-H".into(),
        "Content-Type: application/json".into(),
        url.into(),
        "-d".into(),
        body.into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_to_site_guide_through_the_public_agent_api_tunnel() {
    let edge = Edge::start().await;
    let device_api = HttpUpstream::start("device api").await;
    let certs = edge.dir.path().join("certs");
    let st = std::process::Command::new(crate::harness::BIN)
        .args([
            "certs",
            "generate",
            "--domain",
            "*.customer1.example.test",
            "--out",
        ])
        .arg(&certs)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The guide's agent-api tunnel, with its addr set to this agent's web port (filled below).
    let web_port = free_port();
    let extra = format!(
        "tunnels:\n  agent-api:\n    proto: http\n    domain: agent.customer1.example.test\n    addr: {web_port}\n    inspect: false\n"
    );
    let dir = edge.dir.path();
    let cfg = dir.join("guide.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: \"2\"\nauthtoken: {}\nserver_addr: {}\nroot_cas: {}\nweb_addr: 127.0.0.1:{web_port}\n{extra}",
            edge.token,
            edge.agent_addr(),
            edge.ca.display()
        ),
    )
    .unwrap();
    let ready = dir.join("guide-ready.json");
    let mut agent = Proc::spawn(
        "guide",
        &[
            "start".into(),
            "agent-api".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--ready-file".into(),
            ready.display().to_string(),
        ],
        dir,
        &[],
    );
    wait_ready(&mut agent, &ready).await;
    // The agent runs in the certificates' folder, as the guide's curl bodies assume.
    let api = format!(
        "https://agent.customer1.example.test:{}/api/tunnels",
        edge.https_port()
    );
    let via_edge = |mut args: Vec<String>| {
        let port = edge.https_port();
        let mut all = vec![
            "--cacert".to_string(),
            edge.ca.display().to_string(),
            "--connect-to".into(),
            format!("agent.customer1.example.test:{port}:127.0.0.1:{port}"),
        ];
        all.append(&mut args);
        all
    };
    let p = |f: &str| certs.join(f).display().to_string();

    // The guide's body with a trailing comma.
    let (code, body) = call(via_edge(post(&api, &format!(
        r#"{{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"{}", "domain":"api.customer1.example.test",}}"#,
        device_api.port()
    )))).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("trailing comma") && body.contains("column"),
        "{body}"
    );

    // The guide's mTLS body passes the CA *key* as mutual_tls_cas (DESIGN trap 2).
    let (code, body) = call(via_edge(post(&api, &format!(
        r#"{{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"{}", "domain":"api.customer1.example.test","mutual_tls_cas":"{}", "crt":"{}", "key":"{}"}}"#,
        device_api.port(), p("ca-key.pem"), p("server-crt.pem"), p("server-key.pem")
    )))).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("private key") && body.contains("ca-key.pem"),
        "{body}"
    );

    // The corrected body starts the tunnel.
    let (code, body) = call(via_edge(post(&api, &format!(
        r#"{{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"{}", "domain":"api.customer1.example.test","mutual_tls_cas":"{}", "crt":"{}", "key":"{}"}}"#,
        device_api.port(), p("ca-crt.pem"), p("server-crt.pem"), p("server-key.pem")
    )))).await;
    assert_eq!(code, 201, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        t["public_url"],
        format!("tls://api.customer1.example.test:{}", edge.https_port())
    );

    // A second start of the same name is a conflict.
    let (code, _) = call(via_edge(post(
        &api,
        &format!(
            r#"{{"name":"passthrough","proto":"tcp","addr":"{}"}}"#,
            device_api.port()
        ),
    )))
    .await;
    assert_eq!(code, 409);

    // The device's API, end to end with the client certificate.
    let port = edge.https_port();
    let (code, body, err) = curl(&[
        "--cacert".into(),
        p("ca-crt.pem"),
        "--cert".into(),
        p("client-crt.pem"),
        "--key".into(),
        p("client-key.pem"),
        "--connect-to".into(),
        format!("api.customer1.example.test:{port}:127.0.0.1:{port}"),
        format!("https://api.customer1.example.test:{port}/"),
    ])
    .await;
    assert_eq!((code, body.as_str()), (0, "hello from device api"), "{err}");

    let (code, body) = call(via_edge(vec![api.clone()])).await;
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"agent-api") && names.contains(&"passthrough"),
        "{names:?}"
    );

    let (code, _) = call(via_edge(vec![
        "-X".into(),
        "DELETE".into(),
        format!("{api}/passthrough"),
    ]))
    .await;
    assert_eq!(code, 204);
    let (code, body) = call(via_edge(vec![format!("{api}/passthrough")])).await;
    assert_eq!(code, 404, "{body}");
    assert!(
        agent
            .output()
            .contains("exposed through this tunnel without basic_auth"),
        "{}",
        agent.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_replay_and_api_errors() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("captured").await;
    let agent = api_agent(&edge, "", &["--none"], &[]).await;
    let api = format!("http://{}/api", agent.web);
    let (code, body) = call(post(
        &format!("{api}/tunnels"),
        &format!(
            r#"{{"name":"web","proto":"http","addr":{},"domain":"cap.example.test"}}"#,
            up.port()
        ),
    ))
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(post(
        &format!("{api}/tunnels"),
        &format!(r#"{{"name":"quiet","proto":"http","addr":{},"domain":"quiet.example.test","inspect":false}}"#, up.port()),
    ))
    .await;
    assert_eq!(code, 201, "{body}");

    let mut args = vec![
        "-X".to_string(),
        "POST".into(),
        "-d".into(),
        r#"{"order":42}"#.into(),
        "-H".into(),
        "Content-Type: application/json".into(),
    ];
    args.extend(edge.curl_https("cap.example.test", "/echo?x=1"));
    let (c, _, err) = curl(&args).await;
    assert_eq!(c, 0, "{err}");
    let (c, _, _) = curl(&edge.curl_https("quiet.example.test", "/")).await;
    assert_eq!(c, 0);

    let (code, body) = call(vec![format!("{api}/requests/http?limit=10")]).await;
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    let reqs = list["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "inspect: false must capture nothing: {body}");
    let cap = &reqs[0];
    assert_eq!(cap["tunnel_name"], "web");
    assert_eq!(cap["request"]["method"], "POST");
    assert_eq!(cap["request"]["uri"], "/echo?x=1");
    assert_eq!(cap["response"]["status_code"], 200);
    let id = cap["id"].as_str().unwrap().to_string();
    let (code, one) = call(vec![format!("{api}/requests/http/{id}")]).await;
    assert_eq!(code, 200);
    assert!(one.contains(&id));

    let before = up.requests.load(std::sync::atomic::Ordering::SeqCst);
    let (code, body) = call(post(
        &format!("{api}/requests/http"),
        &format!(r#"{{"id":"{id}"}}"#),
    ))
    .await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(
        up.requests.load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );
    let (_, body) = call(vec![format!("{api}/requests/http")]).await;
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        list["requests"].as_array().unwrap().len(),
        2,
        "the replay is captured too"
    );

    let (code, _) = call(post(
        &format!("{api}/requests/http"),
        r#"{"id":"0000000000000000"}"#,
    ))
    .await;
    assert_eq!(code, 404);
    let (code, _) = call(vec![
        "-X".into(),
        "DELETE".into(),
        format!("{api}/requests/http"),
    ])
    .await;
    assert_eq!(code, 204);
    let (_, body) = call(vec![format!("{api}/requests/http")]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["requests"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let (code, body) = call(vec![format!("{api}/tunnels/web")]).await;
    assert_eq!(code, 200);
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["metrics"]["http"]["count"], 2);
    assert_eq!(t["config"]["inspect"], true);

    let (code, body) = call(vec![format!("{api}/status")]).await;
    assert_eq!(code, 200);
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["status"], "online");
    assert_eq!(st["uri"], "/api/status");
    let (code, body) = call(vec![format!("{api}/")]).await;
    assert_eq!(code, 200);
    assert!(body.contains("/api/tunnels"), "{body}");
    let (code, body) = call(vec![format!("{api}/no/such/path")]).await;
    assert_eq!(code, 404, "{body}");

    // A page on another site cannot start tunnels, even though its request names 127.0.0.1.
    let mut cross = post(
        &format!("{api}/tunnels"),
        r#"{"name":"ssh","proto":"tcp","addr":"22"}"#,
    );
    cross.extend(["-H".to_string(), "Origin: https://attacker.example".into()]);
    let (code, body) = call(cross).await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = call(vec![
        "-X".into(),
        "POST".into(),
        "-H".into(),
        "Content-Type: text/plain".into(),
        format!("{api}/tunnels"),
        "-d".into(),
        r#"{"name":"ssh","proto":"tcp","addr":"22"}"#.into(),
    ])
    .await;
    assert_eq!(code, 415, "{body}");

    let (code, body) = call(vec![format!("{api}/tunnels/nope")]).await;
    assert_eq!(code, 404);
    assert!(body.contains("\"status_code\":404"));
    let (code, body) = call(post(
        &format!("{api}/tunnels"),
        r#"{"name":"x","proto":"http","adr":"80"}"#,
    ))
    .await;
    assert_eq!(code, 400);
    assert!(body.contains("adr"), "{body}");
    let (code, body) = call(vec![
        "-H".into(),
        "Host: rebind.attacker.example".into(),
        format!("{api}/tunnels"),
    ])
    .await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = call(post(
        &format!("{api}/tunnels"),
        &format!(
            r#"{{"name":"taken","proto":"http","addr":{},"domain":"cap.example.test"}}"#,
            up.port()
        ),
    ))
    .await;
    assert_eq!(code, 502, "{body}");
    assert!(body.contains("ERR_FERRY_303"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tunnels_are_rebound_after_an_edge_outage() {
    let mut edge = Edge::start().await;
    let up = HttpUpstream::start("survivor").await;
    let agent = api_agent(&edge, "", &["--none"], &[]).await;
    let (code, body) = call(post(
        &format!("http://{}/api/tunnels", agent.web),
        &format!(
            r#"{{"name":"web","proto":"http","addr":{},"domain":"survivor.example.test"}}"#,
            up.port()
        ),
    ))
    .await;
    assert_eq!(code, 201, "{body}");
    let before: Value = serde_json::from_str(&body).unwrap();
    edge.kill_and_restart().await;
    eventually(
        "the API tunnel is re-bound",
        Duration::from_secs(30),
        || async {
            let (c, b, _) = curl(&edge.curl_https("survivor.example.test", "/")).await;
            c == 0 && b == "hello from survivor"
        },
    )
    .await;
    // The edge kept the tunnel's ID across its restart: the bind token proved ownership.
    let (_, body) = call(vec![format!("http://{}/api/tunnels/web", agent.web)]).await;
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(after["ID"], before["ID"]);
    assert_eq!(after["public_url"], before["public_url"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_api_tunnels_survive_an_agent_restart() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("persisted").await;
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let env = [("HOME", home_s.as_str()), ("XDG_CONFIG_HOME", "")];
    let agent = api_agent(&edge, "", &["--none", "--persist-api-tunnels"], &env).await;
    let (code, body) = call(post(
        &format!("http://{}/api/tunnels", agent.web),
        &format!(
            r#"{{"name":"kept","proto":"http","addr":{},"domain":"kept.example.test"}}"#,
            up.port()
        ),
    ))
    .await;
    assert_eq!(code, 201, "{body}");
    drop(agent);
    let again = api_agent(&edge, "", &["--none", "--persist-api-tunnels"], &env).await;
    let (code, body) = call(vec![format!("http://{}/api/tunnels/kept", again.web)]).await;
    assert_eq!(code, 200, "{body}");
    eventually(
        "the restored tunnel serves",
        Duration::from_secs(20),
        || async {
            let (c, b, _) = curl(&edge.curl_https("kept.example.test", "/")).await;
            c == 0 && b == "hello from persisted"
        },
    )
    .await;
}

/// The agent splices an inspected tunnel's stream and records its exchanges from the bytes
/// going by: requests in turn on one connection, a chunked request body, a streamed answer,
/// a HEAD, each with its head, body, status and time, and a websocket upgrade that still
/// works on the same tunnel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_records_what_the_splice_carries() {
    use base64::Engine;
    let edge = Edge::start().await;
    let up = HttpUpstream::start("spliced").await;
    let agent = api_agent(&edge, "", &["--none"], &[]).await;
    let api = format!("http://{}/api", agent.web);
    let (code, body) = call(post(
        &format!("{api}/tunnels"),
        &format!(
            r#"{{"name":"web","proto":"http","addr":{},"domain":"splice.example.test"}}"#,
            up.port()
        ),
    ))
    .await;
    assert_eq!(code, 201, "{body}");

    // Three requests on one connection: curl reuses it for every URL it is given.
    let mut args = vec!["-sf".to_string()];
    args.extend(edge.curl_https("splice.example.test", "/bytes/3000"));
    args.extend([
        "--next".into(),
        "--data-binary".into(),
        "chunked body".into(),
        "-H".into(),
        "Transfer-Encoding: chunked".into(),
    ]);
    args.extend(edge.curl_https("splice.example.test", "/sha256"));
    args.extend(["--next".into(), "-I".into()]);
    args.extend(edge.curl_https("splice.example.test", "/echo"));
    let (c, _, err) = curl(&args).await;
    assert_eq!(c, 0, "{err}");

    let listed = || async {
        let (_, body) = call(vec![format!("{api}/requests/http?limit=10")]).await;
        let list: Value = serde_json::from_str(&body).unwrap_or_default();
        list["requests"].as_array().cloned().unwrap_or_default()
    };
    eventually("three captures", Duration::from_secs(5), || async {
        listed().await.len() == 3
    })
    .await;
    let list = listed().await;
    let raw = |v: &Value| {
        let text = v.as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    // Newest first.
    let (head, sha, bytes) = (&list[0], &list[1], &list[2]);
    assert_eq!(bytes["request"]["method"], "GET");
    assert_eq!(bytes["request"]["uri"], "/bytes/3000");
    assert_eq!(bytes["response"]["status_code"], 200);
    assert_eq!(bytes["response"]["status"], "200 OK");
    let kept = base64::engine::general_purpose::STANDARD
        .decode(bytes["response"]["raw"].as_str().unwrap())
        .unwrap();
    let head_end = kept.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        kept.len() - head_end,
        3000,
        "the streamed answer is kept whole"
    );
    assert!(bytes["duration"].as_u64().unwrap() > 0);

    assert_eq!(sha["request"]["method"], "POST");
    assert_eq!(sha["request"]["headers"]["Transfer-Encoding"][0], "chunked");
    assert!(
        raw(&sha["request"]["raw"]).ends_with("\r\n\r\nchunked body"),
        "the request body is kept decoded: {}",
        raw(&sha["request"]["raw"])
    );
    assert_eq!(sha["response"]["status_code"], 200);

    assert_eq!(head["request"]["method"], "HEAD");
    assert_eq!(head["response"]["status_code"], 200);
    assert!(head["request"]["headers"]["X-Forwarded-For"][0]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));

    // A replay of the chunked request reaches the upstream with its body.
    let id = sha["id"].as_str().unwrap();
    let before = up.requests.load(std::sync::atomic::Ordering::SeqCst);
    let (code, body) = call(post(
        &format!("{api}/requests/http"),
        &format!(r#"{{"id":"{id}"}}"#),
    ))
    .await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(
        up.requests.load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );
    let (_, body) = call(vec![format!("{api}/requests/http?limit=1")]).await;
    let newest: Value = serde_json::from_str(&body).unwrap();
    // The upstream's Date may have ticked over between the two answers.
    let undated = |text: String| {
        text.split("\r\n")
            .filter(|line| !line.to_ascii_lowercase().starts_with("date:"))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    assert_eq!(
        undated(raw(&newest["requests"][0]["response"]["raw"])),
        undated(raw(&sha["response"]["raw"])),
        "the replay got the same digest"
    );
}
