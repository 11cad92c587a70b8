//! Check Status against a stand-in for the customer's DNS provider (`customer_dns.rs`): an
//! edge with `--dns-check-resolver` pointed at it, records created, changed and broken the
//! usual ways while the test runs, each call made with curl as the guides make it.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::customer_dns::{CustomerDns, Rec};
use crate::harness::{Edge, BIN};

/// The record of `v` named `name`.
fn record<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records: {v}"))
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no record {name}: {v}"))
}

fn msg(r: &Value) -> &str {
    r["msg"].as_str().unwrap_or_default()
}

/// POST `path` with no body; a 200 with `checked_at`.
async fn check(edge: &Edge, path: &str) -> Value {
    let (status, v) = edge.api("POST", path, None).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["checked_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_names_each_record_right_and_wrong() {
    let dns = CustomerDns::start().await;
    let resolver = dns.addr.to_string();
    let edge = Edge::start_with(&["--dns-check-resolver", &resolver]).await;

    let d = edge
        .created(
            "/reserved_domains",
            r#"{"domain":"*.customer1.example.com"}"#,
        )
        .await;
    let path = format!("/reserved_domains/{}/dns_check", d["id"].as_str().unwrap());
    let cname = d["cname_target"].as_str().unwrap().to_string();
    let acme = d["acme_challenge_cname_target"]
        .as_str()
        .unwrap()
        .to_string();
    const WILD: &str = "*.customer1.example.com";
    const ACME: &str = "_acme-challenge.customer1.example.com";

    // Nothing created yet.
    let v = check(&edge, &path).await;
    assert_eq!(v["ok"], false, "{v}");
    let (w, a) = (record(&v, WILD), record(&v, ACME));
    assert_eq!(
        (&w["type"], &w["expected"], &w["found"], &w["ok"]),
        (&json!("CNAME"), &json!(cname), &json!([]), &json!(false)),
        "{v}"
    );
    assert_eq!(w["error_code"], "ERR_NGROK_425", "{v}");
    assert!(
        msg(w).contains("NXDOMAIN") && msg(w).ends_with("[ERR_FERRY_260]"),
        "{v}"
    );
    assert!(msg(w).contains("looked up as "), "{v}");
    assert_eq!(
        (&a["expected"], &a["ok"]),
        (&json!(acme), &json!(false)),
        "{v}"
    );
    assert_eq!(a["error_code"], "ERR_NGROK_442", "{v}");

    // Both right: a CNAME created a moment ago is seen (no cache between checks).
    dns.set(WILD, Rec::Cname(cname.clone()));
    dns.set(ACME, Rec::Cname(acme.clone()));
    let v = check(&edge, &path).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(record(&v, WILD)["found"], json!([cname]), "{v}");
    assert_eq!(record(&v, WILD)["error_code"], Value::Null, "{v}");
    assert_eq!(record(&v, ACME)["ok"], true, "{v}");

    // `ferry api` reaches it too.
    let out = tokio::process::Command::new(BIN)
        .args([
            "api",
            "--api-url",
            &edge.api_url(),
            "--api-key",
            &edge.api_key,
        ])
        .args(["reserved-domains", "dns-check", d["id"].as_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["ok"], true, "{printed}");

    // Pointing elsewhere.
    dns.set(WILD, Rec::Cname("old-host.example.net".into()));
    let v = check(&edge, &path).await;
    let w = record(&v, WILD);
    assert_eq!((&v["ok"], &w["ok"]), (&json!(false), &json!(false)), "{v}");
    assert_eq!(w["found"], json!(["old-host.example.net"]), "{v}");
    assert_eq!(w["error_code"], "ERR_NGROK_427", "{v}");
    assert!(
        msg(w).contains(&cname) && msg(w).contains("old-host.example.net"),
        "{v}"
    );
    assert_eq!(record(&v, ACME)["ok"], true, "{v}");

    // An A record where the CNAME belongs.
    dns.remove(WILD);
    dns.set(WILD, Rec::A(Ipv4Addr::new(192, 0, 2, 10)));
    let v = check(&edge, &path).await;
    let w = record(&v, WILD);
    assert_eq!(w["found"], json!(["192.0.2.10"]), "{v}");
    assert_eq!(w["error_code"], "ERR_NGROK_426", "{v}");
    assert!(
        msg(w).contains("A/AAAA record") && msg(w).ends_with("[ERR_FERRY_261]"),
        "{v}"
    );

    // The zone suffix doubled: the provider appended example.com to the full name.
    dns.remove(WILD);
    dns.set(&format!("{WILD}.example.com"), Rec::Cname(cname.clone()));
    let v = check(&edge, &path).await;
    let w = record(&v, WILD);
    assert_eq!(w["error_code"], "ERR_NGROK_425", "{v}");
    assert!(
        msg(w).contains("*.customer1.example.com.example.com")
            && msg(w).contains("named *.customer1 ")
            && msg(w).ends_with("[ERR_FERRY_263]"),
        "{v}"
    );

    // The resolver gone: a clear failure in bounded time, still a 200.
    drop(dns);
    let started = Instant::now();
    let v = check(&edge, &path).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(v["ok"], false, "{v}");
    for r in v["records"].as_array().unwrap() {
        assert_eq!(r["error_code"], "ERR_FERRY_270", "{v}");
        assert!(msg(r).contains(&resolver), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_of_an_agent_ingress_compares_its_delegation() {
    let dns = CustomerDns::start().await;
    let edge = Edge::start_with(&["--dns-check-resolver", &dns.addr.to_string()]).await;
    let a = edge
        .created("/agent_ingresses", r#"{"domain":"connect.example.com"}"#)
        .await;
    let ns = a["ns_targets"].clone();
    let servers: Vec<String> = serde_json::from_value(ns.clone()).unwrap();
    assert!(!servers.is_empty(), "{a}");
    let path = format!("/agent_ingresses/{}/dns_check", a["id"].as_str().unwrap());

    let v = check(&edge, &path).await;
    let r = record(&v, "connect.example.com");
    assert_eq!(
        (&v["ok"], &r["type"], &r["expected"]),
        (&json!(false), &json!("NS"), &ns),
        "{v}"
    );
    assert_eq!(r["error_code"], "ERR_NGROK_6702", "{v}");

    let mut reversed = servers.clone();
    reversed.reverse();
    dns.set("connect.example.com", Rec::Ns(reversed));
    let v = check(&edge, &path).await;
    assert_eq!(v["ok"], true, "{v}");

    dns.set(
        "connect.example.com",
        Rec::Ns(vec![servers[0].clone(), "ns-427.awsdns-53.com".into()]),
    );
    let v = check(&edge, &path).await;
    let r = record(&v, "connect.example.com");
    assert_eq!(r["error_code"], "ERR_NGROK_6703", "{v}");
    assert!(msg(r).contains("remove ns-427.awsdns-53.com"), "{v}");
    if servers.len() > 1 {
        assert!(msg(r).contains(&format!("add {}", servers[1])), "{v}");
    }
}
