//! The dashboard in Debian's headless Chromium (tests/browser/dashboard.mjs), over a real dev
//! edge whose Check Status asks a stand-in for the customer's DNS: each guide's dashboard step
//! done by clicking, and what the clicks did checked through the REST API.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

use crate::customer_dns::{CustomerDns, Rec};
use crate::harness::{curl, Edge};

struct Script {
    lines: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
}

impl Script {
    /// The next step the script reports: `word`, and what follows it on the line.
    async fn step(&mut self, word: &str) -> String {
        let line = tokio::time::timeout(Duration::from_secs(90), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {word} in time"))
            .expect("node's stdout")
            .unwrap_or_else(|| panic!("the script ended before {word}"));
        let (got, rest) = line.split_once(' ').unwrap_or((&line, ""));
        assert_eq!(got, word, "{line}");
        rest.to_string()
    }

    async fn tell(&mut self, word: &str) {
        self.stdin
            .write_all(format!("{word}\n").as_bytes())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_dashboard_steps_by_clicking() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let shots = root.join("target/dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    println!("screenshots: {}", shots.display());

    let dns = CustomerDns::start().await;
    let edge = Edge::start_with(&["--dns-check-resolver", &dns.addr.to_string()]).await;
    let api = edge.api_url();
    let mut node = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/dashboard.mjs"))
        .args([&api, &edge.api_key])
        .arg(&shots)
        .arg(&edge.ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut script = Script {
        lines: BufReader::new(node.stdout.take().unwrap()).lines(),
        stdin: node.stdin.take().unwrap(),
    };

    script.step("SIGNED_IN").await;
    // The domain the page reserved, and the records its panel asked for.
    script.step("RECORDS_MISSING").await;
    let (status, listed) = edge.api("GET", "/reserved_domains", None).await;
    assert_eq!(status, 200, "{listed}");
    let d = &listed["reserved_domains"][0];
    assert_eq!(d["domain"], "*.customer1.example.com", "{listed}");
    dns.set(
        "*.customer1.example.com",
        Rec::Cname(d["cname_target"].as_str().unwrap().into()),
    );
    dns.set(
        "_acme-challenge.customer1.example.com",
        Rec::Cname(d["acme_challenge_cname_target"].as_str().unwrap().into()),
    );
    script.tell("records").await;
    script.step("RECORDS_OK").await;

    // The agent ingress the page made shows the NS targets the REST API answers.
    let shown = script.step("INGRESS").await;
    let (_, ingresses) = edge.api("GET", "/agent_ingresses", None).await;
    let ingress = &ingresses["ingresses"][0];
    assert_eq!(
        ingress["domain"], "connect.customer1.example.com",
        "{ingresses}"
    );
    let ns: Vec<&str> = ingress["ns_targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert_eq!(shown, ns.join(","), "{ingresses}");

    // The CA the page uploaded, with the subject the REST API parsed.
    let subject = script.step("CA_SUBJECT").await;
    let (_, cas) = edge.api("GET", "/certificate_authorities", None).await;
    let cas = cas["certificate_authorities"].as_array().unwrap().clone();
    assert_eq!(cas.len(), 1, "only the good file was taken: {cas:?}");
    let cn = cas[0]["subject_common_name"].as_str().unwrap();
    assert!(subject.contains(&format!("CN={cn}")), "{subject} vs {cn}");

    // The authtoken: its owner is the bot user the page made, its ACL the guide's rule.
    let token = script.step("TOKEN").await;
    let (_, bots) = edge.api("GET", "/bot_users", None).await;
    let bot = &bots["bot_users"][0];
    assert_eq!(bot["name"], "customer1 bot", "{bots}");
    let (_, creds) = edge.api("GET", "/credentials", None).await;
    let cred = &creds["credentials"][0];
    assert_eq!(cred["owner_id"], bot["id"], "{creds}");
    assert_eq!(
        cred["acl"],
        serde_json::json!(["bind:*.customer1.example.com"]),
        "{creds}"
    );
    assert_eq!(cred["description"], "customer1 agent", "{creds}");
    assert!(token.len() > 20 && cred["token"].is_null(), "{creds}");

    // An agent with that token; the Live page shows it, then revokes the token.
    let _agent = edge
        .agent_as(
            &token,
            "http",
            &["8080", "--domain", "app.customer1.example.com"],
        )
        .await;
    script.tell("agent").await;
    assert_eq!(script.step("LIVE").await, "tunnel");
    script.step("REVOKED").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, sessions) = edge.api("GET", "/tunnel_sessions", None).await;
        if sessions["tunnel_sessions"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent of the revoked token is still connected: {sessions}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, creds) = edge.api("GET", "/credentials", None).await;
    assert!(
        !creds.to_string().contains(cred["id"].as_str().unwrap()),
        "{creds}"
    );

    // The API key the page made works as a Bearer key.
    let key = script.step("API_KEY").await;
    let (code, out, err) = curl(&[
        "-w".into(),
        "%{http_code}".into(),
        "-o".into(),
        "/dev/null".into(),
        "-H".into(),
        format!("Authorization: Bearer {key}"),
        "-H".into(),
        "Ngrok-Version: 2".into(),
        format!("{api}/api_keys"),
    ])
    .await;
    assert_eq!((code, out.as_str()), (0, "200"), "{err}");

    // A form posted from elsewhere carries the cookie but not the page's token.
    let cookie = script.step("COOKIE").await;
    let (code, out, err) = curl(&[
        "-w".into(),
        "\n%{http_code}".into(),
        "--cookie".into(),
        format!("ferry_session={cookie}"),
        "-d".into(),
        "name=forged".into(),
        format!("{api}/dashboard/bot-users"),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with("\n403") && out.contains("ERR_FERRY_280"),
        "{out}"
    );
    let (_, bots) = edge.api("GET", "/bot_users", None).await;
    assert_eq!(
        bots["bot_users"].as_array().map(Vec::len),
        Some(1),
        "{bots}"
    );
    script.tell("forged").await;
    script.step("SIGNED_OUT").await;

    // Deleting the key a session signed in with ends the session.
    script.step("SIGNED_IN_AGAIN").await;
    let (_, keys) = edge.api("GET", "/api_keys", None).await;
    let made = keys["keys"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = edge.api("DELETE", &format!("/api_keys/{made}"), None).await;
    assert_eq!(status, 204);
    script.tell("deleted").await;
    script.step("DONE").await;
    let status = tokio::time::timeout(Duration::from_secs(30), node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(shots.join("check-status-success.png").exists());
}
