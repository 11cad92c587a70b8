//! The two guides end to end: `examples/guides/walkthrough.sh` runs every step of each with
//! the guides' own curl commands, bodies and ngrok.yml against a deployment on loopback
//! (edge, pebble, the customer's DNS, an agent, the sample API) and fails at the first step
//! that does not behave as the guide says. The customer's DNS is this test's stand-in,
//! serving the records file the script edits; ngrok's SDK is `examples/sdk-agent.rs`.

use std::time::Duration;

use crate::customer_dns::CustomerDns;
use crate::harness::{free_port, BIN};

async fn walk(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::write(&records, "").unwrap();
    let dns = CustomerDns::start().await;
    let addr = dns.addr.to_string();
    let file = records.clone();
    let serving = tokio::spawn(async move { dns.serve_file(&file).await });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/guides/walkthrough.sh"
    );
    // `cargo test` builds the examples with the tests; `cargo test --test e2e` alone does not.
    let sdk_agent = std::path::Path::new(BIN)
        .parent()
        .unwrap()
        .join("examples/sdk-agent");
    assert!(
        sdk_agent.exists(),
        "{} is missing: run `cargo build --example sdk-agent` (cargo test builds it)",
        sdk_agent.display()
    );
    let run = tokio::process::Command::new(script)
        .arg(mode)
        .env("FERRY_BIN", BIN)
        .env("SDK_AGENT_BIN", &sdk_agent)
        .env("CUSTOMER_DNS_ADDR", &addr)
        .env("RECORDS_FILE", &records)
        .env("SAMPLE_PORT", free_port().to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the walkthrough finishes within 4 minutes")
        .unwrap();
    serving.abort();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("every step behaved as the guide says"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_gateway_guide_step_by_step() {
    walk("device-gateway").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_to_site_guide_step_by_step() {
    walk("site-to-site").await;
}
