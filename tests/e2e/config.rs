//! `ferry start` and `ferry config` with ngrok.yml files.

use std::time::Duration;

use crate::harness::{curl, wait_ready, Edge, Proc};
use crate::upstream::HttpUpstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_reads_session_keys_and_tunnels_from_merged_files() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("from config").await;
    let dir = edge.dir.path();
    let base = dir.join("ngrok.yml");
    std::fs::write(
        &base,
        format!(
            "version: \"2\"\nauthtoken: wrong_token_replaced_below\nserver_addr: {}\nroot_cas: {}\ntunnels:\n  web:\n    proto: http\n    addr: 1\n    domain: cfg.example.test\n",
            edge.agent_addr(),
            edge.ca.display()
        ),
    )
    .unwrap();
    let overlay = dir.join("customer.yml");
    std::fs::write(
        &overlay,
        format!(
            "authtoken: {}\ntunnels:\n  web:\n    proto: http\n    addr: {}\n    domain: cfg.example.test\n",
            edge.token,
            up.port()
        ),
    )
    .unwrap();
    let ready = dir.join("start-ready.json");
    let args: Vec<String> = vec![
        "start".into(),
        "web".into(),
        "--config".into(),
        base.display().to_string(),
        "--config".into(),
        overlay.display().to_string(),
        "--ready-file".into(),
        ready.display().to_string(),
    ];
    let mut agent = Proc::spawn("start", &args, dir, &[]);
    let r = wait_ready(&mut agent, &ready).await;
    assert_eq!(r["tunnels"][0]["name"], "web");
    let (code, body, err) = curl(&edge.curl_https("cfg.example.test", "/")).await;
    assert_eq!(
        (code, body.as_str()),
        (0, "hello from from config"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_file_and_position_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "version: \"2\"\ntunnels:\n  web:\n    proto: http\n    adr: 80\n",
    )
    .unwrap();
    let mut check = Proc::spawn(
        "check",
        &[
            "config".into(),
            "check".into(),
            "--config".into(),
            bad.display().to_string(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(
        check.wait_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    let out = check.output();
    assert!(
        out.contains(&format!("{}:5:5", bad.display())) && out.contains("did you mean \"addr\""),
        "{out}"
    );

    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "version: \"2\"\ntunnels:\n  web:\n    proto: http\n    addr: 80\n",
    )
    .unwrap();
    let mut start = Proc::spawn(
        "undefined",
        &[
            "start".into(),
            "nope".into(),
            "--config".into(),
            good.display().to_string(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(
        start.wait_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(start.output().contains("no tunnel named \"nope\"") && start.output().contains("web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_authtoken_writes_and_keeps_the_rest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ferry.yml");
    std::fs::write(
        &file,
        "# my settings\nversion: \"2\"\nauthtoken: old\nserver_addr: x:1\n",
    )
    .unwrap();
    let mut p = Proc::spawn(
        "add",
        &[
            "config".into(),
            "add-authtoken".into(),
            "new_token".into(),
            "--config".into(),
            file.display().to_string(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(
        p.wait_exit(Duration::from_secs(10)).await.code(),
        Some(0),
        "{}",
        p.output()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "# my settings\nversion: \"2\"\nauthtoken: new_token\nserver_addr: x:1\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_files_are_found_and_ferrys_own_wins() {
    let home = tempfile::tempdir().unwrap();
    let ngrok_dir = home.path().join(".config/ngrok");
    let ferry_dir = home.path().join(".config/ferry");
    std::fs::create_dir_all(&ngrok_dir).unwrap();
    std::fs::create_dir_all(&ferry_dir).unwrap();
    std::fs::write(
        ngrok_dir.join("ngrok.yml"),
        "version: \"2\"\nserver_addr: from-ngrok:443\ntunnels:\n  a:\n    proto: tcp\n    addr: 22\n",
    )
    .unwrap();
    std::fs::write(ferry_dir.join("ferry.yml"), "server_addr: from-ferry:443\n").unwrap();
    let h = home.path().display().to_string();
    let mut check = Proc::spawn(
        "defaults",
        &["config".into(), "check".into()],
        home.path(),
        &[("HOME", h.as_str()), ("XDG_CONFIG_HOME", "")],
    );
    assert_eq!(
        check.wait_exit(Duration::from_secs(10)).await.code(),
        Some(0),
        "{}",
        check.output()
    );
    let out = check.output();
    assert!(
        out.contains("ngrok/ngrok.yml") && out.contains("ferry/ferry.yml"),
        "{out}"
    );
    assert!(out.contains("\"server_addr\": \"from-ferry:443\""), "{out}");
    assert!(out.contains("\"a\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_go_where_log_says() {
    let edge = crate::harness::Edge::start().await;
    let up = HttpUpstream::start("logged").await;
    let dir = edge.dir.path();
    let ready = dir.join("json-ready.json");
    let mut agent = Proc::spawn(
        "jsonlog",
        &[
            "http".into(),
            up.port(),
            "--domain".into(),
            "logged.example.test".into(),
            "--authtoken".into(),
            edge.token.clone(),
            "--server-addr".into(),
            edge.agent_addr(),
            "--root-cas".into(),
            edge.ca.display().to_string(),
            "--log".into(),
            "stdout".into(),
            "--log-format".into(),
            "json".into(),
            "--ready-file".into(),
            ready.display().to_string(),
        ],
        dir,
        // Requests are logged at debug (a busy tunnel's log stays readable at info).
        &[("FERRY_LOG", "debug")],
    );
    wait_ready(&mut agent, &ready).await;
    let (code, _, _) = curl(&edge.curl_https("logged.example.test", "/json-check")).await;
    assert_eq!(code, 0);
    crate::harness::eventually(
        "a JSON log line for the request",
        Duration::from_secs(10),
        || {
            let stdout = std::fs::read_to_string(&agent.stdout).unwrap_or_default();
            async move {
                stdout.lines().any(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .is_ok_and(|v| v.to_string().contains("/json-check"))
                })
            }
        },
    )
    .await;
}

/// The site-to-site guide's two copy traps: its ngrok.yml fragment without the `tunnels:`
/// and name lines, and `–config` with an en dash. Both are usage errors that say what to
/// type: exit 2, no ready file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_copy_traps_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ngrok.yml");
    std::fs::write(
        &file,
        "version: \"2\"\nauthtoken: x\n\nproto: http\ndomain: agent.customer1.example.com\naddr: 4040\ninspect: false\n",
    )
    .unwrap();
    let ready = dir.path().join("ready.json");
    let path = file.display().to_string();
    let run = |name: &str, args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Proc::spawn(name, &args, dir.path(), &[])
    };
    let ready_arg = ready.display().to_string();
    let mut flat = run(
        "flat",
        &[
            "start",
            "agent-api",
            "--config",
            &path,
            "--ready-file",
            &ready_arg,
        ],
    );
    assert_eq!(
        flat.wait_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    let out = flat.output();
    assert!(out.contains(&format!("{path}:4:1")), "{out}");
    for key in ["\"proto\"", "\"domain\"", "\"addr\"", "\"inspect\""] {
        assert!(out.contains(key), "{key}: {out}");
    }
    assert!(out.contains("tunnels.<name>:"), "{out}");

    for (name, args) in [
        (
            "dash-start",
            vec!["start", "agent-api", "\u{2013}config", &path],
        ),
        (
            "dash-check",
            vec!["config", "check", "\u{2013}config", &path],
        ),
    ] {
        let mut p = run(name, &args);
        assert_eq!(p.wait_exit(Duration::from_secs(10)).await.code(), Some(2));
        let out = p.output();
        assert!(
            out.contains("en dash") && out.contains("type --config"),
            "{name}: {out}"
        );
    }
    assert!(!ready.exists());
}

/// A device finds the edge as the guides have it: `server_addr` is a region domain of the
/// agent ingress, resolved through Ferry's own DNS (`dns_resolver_ips`), as it would be once
/// the customer's zone is delegated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_addr_is_a_region_domain_resolved_through_dns_resolver_ips() {
    let edge = Edge::start().await;
    let a = edge
        .created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    let region = a["region_domains"][0].as_str().unwrap().to_string();
    let dns = edge.ready["dns"].as_str().unwrap().to_string();
    let up = HttpUpstream::start("via region").await;
    let dir = edge.dir.path();
    let file = dir.join("device.yml");
    let port = crate::harness::port_of(&edge.agent_addr());
    std::fs::write(
        &file,
        format!(
            "version: \"2\"\nauthtoken: {}\nserver_addr: {region}:{port}\nroot_cas: {}\ndns_resolver_ips: [\"{dns}\"]\ntunnels:\n  web:\n    proto: http\n    addr: {}\n    domain: region.example.test\n",
            edge.token,
            edge.ca.display(),
            up.port()
        ),
    )
    .unwrap();
    let ready = dir.join("device-ready.json");
    let args: Vec<String> = vec![
        "start".into(),
        "web".into(),
        "--config".into(),
        file.display().to_string(),
        "--ready-file".into(),
        ready.display().to_string(),
    ];
    let mut agent = Proc::spawn("device", &args, dir, &[]);
    wait_ready(&mut agent, &ready).await;
    let (code, body, err) = curl(&edge.curl_https("region.example.test", "/")).await;
    assert_eq!((code, body.as_str()), (0, "hello from via region"), "{err}");

    // A resolver entry that is no address is named.
    std::fs::write(
        &file,
        format!("version: \"2\"\nauthtoken: x\nserver_addr: {region}:{port}\ndns_resolver_ips: [\"dns.example\"]\n"),
    )
    .unwrap();
    let mut bad = Proc::spawn(
        "bad-resolver",
        &[
            "start".into(),
            "--none".into(),
            "--config".into(),
            file.display().to_string(),
        ],
        dir,
        &[],
    );
    assert_eq!(bad.wait_exit(Duration::from_secs(10)).await.code(), Some(2));
    assert!(
        bad.output().contains("dns_resolver_ips[0]"),
        "{}",
        bad.output()
    );
}
