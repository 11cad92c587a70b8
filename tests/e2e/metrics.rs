//! Prometheus metrics scraped from a live dev edge and agent after real traffic: a request
//! through a tunnel, a bind refused because another agent holds the name, an authtoken
//! refused. The API's `/metrics` (API key, no `Ngrok-Version`), the `--metrics-addr`
//! listener and the agent's `/metrics` on `web_addr` are each read, checked by value and by
//! `promtool check metrics` (Debian's `prometheus`, which scripts/test.sh installs), and the
//! Grafana dashboard's queries (deploy/grafana/ferry.json) must name only families a scrape
//! carries.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{curl, eventually, Edge, Proc};
use crate::upstream::HttpUpstream;

const PROMTOOL: &str = "/usr/bin/promtool";

/// The value of the sample `series` (name and labels exactly as written) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))?
        .parse()
        .ok()
}

/// [`sample`], which must be there.
pub(crate) fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

/// GET `url` with `args`; returns the status and the body.
async fn get(url: &str, args: &[&str]) -> (u16, String) {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["-w".into(), "\n%{http_code}".into(), url.into()]);
    let (code, out, err) = curl(&all).await;
    assert_eq!(code, 0, "curl {url}: {err}");
    let (body, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

/// The API's `/metrics` of `edge`, read with `api_key`.
pub(crate) async fn scrape(edge: &Edge, api_key: &str) -> String {
    let bearer = format!("Authorization: Bearer {api_key}");
    let (status, text) = get(&format!("{}/metrics", edge.api_url()), &["-H", &bearer]).await;
    assert_eq!(status, 200, "{text}");
    text
}

/// `promtool check metrics` on `text`: a parse error or a lint (a counter without `_total`,
/// a family without help) fails the test.
async fn promtool_accepts(what: &str, text: &str) {
    assert!(
        std::path::Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: scripts/test.sh installs Debian's prometheus package"
    );
    let mut child = tokio::process::Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "promtool refused the {what} scrape: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An agent with an authtoken the edge refuses; returns once it has exited.
async fn refused_authtoken(edge: &Edge) {
    let mut agent = Proc::spawn(
        "badtoken",
        &[
            "http".into(),
            "8080".into(),
            "--authtoken".into(),
            "2abcdefghijklmnopqrstuvwxyz_notthesecret".into(),
            "--server-addr".into(),
            edge.agent_addr(),
            "--root-cas".into(),
            edge.ca.display().to_string(),
            "--web-addr".into(),
            "false".into(),
        ],
        edge.dir.path(),
        &[],
    );
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", agent.output());
}

/// A second agent for a name the first holds; returns once it has exited.
async fn refused_bind(edge: &Edge, port: &str) {
    let mut second = edge.spawn_agent(
        "http",
        &[
            port,
            "--domain",
            "metrics.example.test",
            "--web-addr",
            "false",
        ],
    );
    let status = second.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", second.output());
    assert!(
        second.output().contains("ERR_FERRY_303"),
        "{}",
        second.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_agent_metrics_after_real_traffic() {
    let edge = Edge::start_with(&["--metrics-addr", "127.0.0.1:0"]).await;
    let up = HttpUpstream::start("metrics").await;
    let port = up.port();
    let agent = edge
        .agent(
            "http",
            &[
                &port,
                "--domain",
                "metrics.example.test",
                "--web-addr",
                "127.0.0.1:0",
            ],
        )
        .await;
    let (_, answer, _) = curl(&edge.curl_https("metrics.example.test", "/")).await;
    assert!(answer.contains("hello from metrics"), "{answer}");
    tokio::join!(refused_authtoken(&edge), refused_bind(&edge, &port));
    // A certificate in the store, for the certificate families.
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["cert.example.test".to_string()]).unwrap();
    let body = serde_json::json!({
        "certificate_pem": params.self_signed(&key).unwrap().pem(),
        "private_key_pem": key.serialize_pem(),
    });
    edge.created("/tls_certificates", &body.to_string()).await;

    // The API: an API key, no Ngrok-Version, as Prometheus scrapes.
    let api_text = scrape(&edge, &edge.api_key).await;
    let (status, refused) = get(&format!("{}/metrics", edge.api_url()), &[]).await;
    assert_eq!(status, 401, "{refused}");

    let listener = edge.ready["metrics"].as_str().expect("ready key metrics");
    let (status, open_text) = get(&format!("http://{listener}/metrics"), &[]).await;
    assert_eq!(status, 200, "{open_text}");

    for text in [&api_text, &open_text] {
        assert!(value(text, "ferry_edge_http_requests_total{class=\"2xx\"}") >= 1.0);
        assert_eq!(
            value(
                text,
                "ferry_edge_bind_refusals_total{code=\"ERR_FERRY_303\"}"
            ),
            1.0
        );
        assert!(
            value(
                text,
                "ferry_edge_auth_failures_total{code=\"ERR_FERRY_103\"}"
            ) >= 1.0
        );
        assert_eq!(
            value(text, "ferry_edge_tunnels{proto=\"https\",region=\"local\"}"),
            1.0,
        );
        assert_eq!(
            value(
                text,
                "ferry_edge_sessions{client=\"ferry\",region=\"local\"}"
            ),
            1.0
        );
        assert!(value(text, "ferry_edge_binds_total{proto=\"https\"}") >= 1.0);
        assert!(
            value(
                text,
                "ferry_edge_proxy_streams_opened_total{proto=\"https\"}"
            ) >= 1.0
        );
        assert!(
            value(
                text,
                "ferry_edge_bytes_total{direction=\"out\",proto=\"https\"}"
            ) > 0.0
        );
        assert!(value(text, "ferry_edge_tls_handshakes_total{listener=\"public\"}") >= 1.0);
        assert!(value(text, "ferry_edge_tls_handshakes_total{listener=\"agent\"}") >= 3.0);
        assert!(value(text, "ferry_edge_http_request_duration_seconds_count") >= 1.0);
        assert_eq!(
            value(text, "ferry_edge_certificates{state=\"uploaded\"}"),
            1.0
        );
        assert!(
            value(
                text,
                "ferry_store_query_duration_seconds_count{op=\"select\"}"
            ) >= 1.0
        );
        assert!(value(text, "ferry_edge_lease_age_seconds") < 5.0);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("ferry_"), "{line}");
        }
    }
    let expiry = open_text
        .lines()
        .find(|l| l.starts_with("ferry_edge_certificate_expiry_seconds{"))
        .unwrap_or_else(|| panic!("no certificate expiry in\n{open_text}"));
    assert!(expiry.contains("name=\"cert.example.test\""), "{expiry}");

    let web = agent.ready["web_addr"].as_str().expect("web_addr");
    let (status, health) = get(&format!("http://{web}/healthz"), &[]).await;
    assert_eq!((status, health.as_str()), (200, "ok\n"));
    let (status, agent_text) = get(&format!("http://{web}/metrics"), &[]).await;
    assert_eq!(status, 200, "{agent_text}");
    assert_eq!(value(&agent_text, "ferry_agent_session_up"), 1.0);
    assert_eq!(value(&agent_text, "ferry_agent_reconnects_total"), 0.0);
    assert!(value(&agent_text, "ferry_agent_streams_total{proto=\"http\"}") >= 1.0);
    assert!(
        value(
            &agent_text,
            "ferry_agent_bytes_total{direction=\"out\",proto=\"http\"}"
        ) > 0.0
    );
    assert!(
        value(
            &agent_text,
            "ferry_agent_http_requests_total{class=\"2xx\"}"
        ) >= 1.0
    );
    assert_eq!(
        value(
            &agent_text,
            "ferry_agent_upstream_dial_failures_total{proto=\"http\"}"
        ),
        0.0
    );

    tokio::join!(
        promtool_accepts("API", &api_text),
        promtool_accepts("--metrics-addr", &open_text),
        promtool_accepts("agent", &agent_text),
    );
    dashboard_names_only_scraped_families(&[&open_text, &agent_text]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_counts_its_reconnect_after_an_edge_restart() {
    let mut edge = Edge::start().await;
    let up = HttpUpstream::start("again").await;
    let agent = edge
        .agent(
            "http",
            &[
                &up.port(),
                "--domain",
                "again.example.test",
                "--web-addr",
                "127.0.0.1:0",
            ],
        )
        .await;
    let url = format!(
        "http://{}/metrics",
        agent.ready["web_addr"].as_str().unwrap()
    );
    let (_, before) = get(&url, &[]).await;
    assert_eq!(value(&before, "ferry_agent_reconnects_total"), 0.0);
    edge.kill_and_restart().await;
    eventually(
        "the agent's reconnect counted",
        Duration::from_secs(20),
        || async {
            let (_, text) = get(&url, &[]).await;
            sample(&text, "ferry_agent_reconnects_total") == Some(1.0)
                && sample(&text, "ferry_agent_session_up") == Some(1.0)
        },
    )
    .await;
}

/// Every `ferry_...` name in the dashboard's queries is a sample name of a live scrape, so a
/// renamed family cannot leave a panel empty unnoticed.
fn dashboard_names_only_scraped_families(scrapes: &[&str]) {
    let scraped: BTreeSet<&str> = scrapes
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/ferry.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let mut missing = BTreeSet::new();
    for expr in &exprs {
        for name in names_in(expr) {
            if !scraped.contains(name.as_str()) {
                missing.insert(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard queries families no scrape has: {missing:?}"
    );
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The `ferry_...` identifiers of a PromQL expression.
fn names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("ferry_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}
