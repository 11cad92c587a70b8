//! Managed certificates from a real ACME CA: Debian's `pebble`, validating against the edge
//! through the stand-in for the customer's DNS (`customer_dns.rs`), which follows the
//! customer's CNAMEs into Ferry's own DNS as a recursive resolver would. A wildcard by
//! DNS-01, single names by HTTP-01 and TLS-ALPN-01, each then verified by `curl` against
//! pebble's root; the pre-flight's `DNS_ERROR` while a record is missing; a job that
//! survives a kill -9.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::customer_dns::{CustomerDns, Rec};
use crate::harness::{curl, eventually, free_port, Edge, Proc};
use crate::served_certs::TestPki;

const PEBBLE: &str = "/usr/bin/pebble";

/// An edge outside dev mode with its DNS, pebble as its CA, and the customer's DNS in front
/// of both (pebble resolves through it).
struct Setup {
    edge: Edge,
    customer: CustomerDns,
    _pebble: Proc,
    pebble_dir: tempfile::TempDir,
    /// The root of pebble's own HTTPS.
    tls_root: PathBuf,
    management: String,
}

impl Setup {
    /// Pebble and the edge each need the other's address before they start: every port is
    /// chosen first, pebble started, then the edge on its ports. `records` are the
    /// customer's from the start.
    async fn start(extra: &[&str]) -> Setup {
        Self::start_with_records(extra, &[]).await
    }

    async fn start_with_records(extra: &[&str], records: &[(&str, Rec)]) -> Setup {
        let customer = CustomerDns::start().await;
        for (name, rec) in records {
            customer.set(name, rec.clone());
        }
        let pebble_dir = tempfile::tempdir().unwrap();
        let (listen, management) = (free_port(), free_port());
        let (http, https) = (free_port(), free_port());
        let pki = TestPki::new();
        let tls_root = pki.write_root(pebble_dir.path());
        let (chain, key) = pki.leaf(&["localhost", "127.0.0.1"]);
        let cert = pebble_dir.path().join("cert.pem");
        let key_path = pebble_dir.path().join("key.pem");
        std::fs::write(&cert, chain).unwrap();
        std::fs::write(&key_path, key).unwrap();
        let config = json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert,
            "privateKey": key_path,
            "httpPort": http,
            "tlsPort": https,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = pebble_dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let pebble = Proc::spawn_program(
            PEBBLE,
            "pebble",
            &[
                "-config".into(),
                config_path.display().to_string(),
                "-dnsserver".into(),
                customer.addr.to_string(),
            ],
            pebble_dir.path(),
            // No random wait before validating; no nonce refused on purpose.
            &[("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_WFE_NONCEREJECT", "0")],
        );
        let directory = format!("https://127.0.0.1:{listen}/dir");
        let root = tls_root.display().to_string();
        eventually("pebble answers", Duration::from_secs(20), || {
            let (root, url) = (root.clone(), directory.clone());
            async move { curl(&["-sf".into(), "--cacert".into(), root, url]).await.0 == 0 }
        })
        .await;

        let resolver = customer.addr.to_string();
        let (http_addr, https_addr) = (format!("127.0.0.1:{http}"), format!("127.0.0.1:{https}"));
        let mut args = vec![
            "--acme-directory",
            &directory,
            "--acme-root",
            &root,
            "--acme-email",
            "ops@example.test",
            "--dns-check-resolver",
            &resolver,
            "--dns-addr",
            "127.0.0.1:0",
            "--public-ip",
            "127.0.0.1",
            "--base-domain",
            "ferry.test",
            "--http-addr",
            &http_addr,
            "--https-addr",
            &https_addr,
        ];
        args.extend_from_slice(extra);
        let edge = Edge::start_production(&args).await;
        let dns = edge.ready["dns"].as_str().unwrap().parse().unwrap();
        customer.follow_into(dns);
        Setup {
            edge,
            customer,
            _pebble: pebble,
            pebble_dir,
            tls_root,
            management: format!("https://127.0.0.1:{management}"),
        }
    }

    /// The root pebble's certificates chain to, written where curl can read it.
    async fn issuing_root(&self) -> PathBuf {
        let (code, pem, err) = curl(&[
            "-sf".into(),
            "--cacert".into(),
            self.tls_root.display().to_string(),
            format!("{}/roots/0", self.management),
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        let path = self.pebble_dir.path().join("issuing-root.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// Reserves `domain` (managed by default, as at ngrok) and returns it.
    async fn reserve(&self, domain: &str) -> Value {
        self.reserve_with(json!({ "domain": domain })).await
    }

    async fn reserve_with(&self, body: Value) -> Value {
        let body = body.to_string();
        let (status, v) = self
            .edge
            .api("POST", "/reserved_domains", Some(&body))
            .await;
        assert_eq!(status, 201, "{v}");
        v
    }

    /// The customer's records for `d`, as the guides have them created.
    fn create_records(&self, d: &Value) {
        let domain = d["domain"].as_str().unwrap();
        self.customer.set(
            domain,
            Rec::Cname(d["cname_target"].as_str().unwrap().into()),
        );
        if let Some(acme) = d["acme_challenge_cname_target"].as_str() {
            let parent = domain.trim_start_matches("*.");
            self.customer.set(
                &format!("_acme-challenge.{parent}"),
                Rec::Cname(acme.into()),
            );
        }
    }

    /// Waits until the reserved domain `id` shows an issued certificate; returns it.
    async fn issued(&self, id: &str) -> Value {
        let path = format!("/reserved_domains/{id}");
        let mut last = Value::Null;
        for _ in 0..120 {
            let (_, d) = self.edge.api("GET", &path, None).await;
            if d["certificate"].is_object()
                && d["certificate_management_status"]["provisioning_job"].is_null()
            {
                return d;
            }
            last = d;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "no certificate for {id}: {last}\n{}",
            self.edge.proc.as_ref().unwrap().output()
        );
    }

    /// `curl` to `host` on the edge's HTTPS port, trusting only `root`: its exit code and
    /// stderr (0 once the certificate verifies; the edge then answers 404 without a tunnel).
    async fn curl_verified(&self, host: &str, root: &std::path::Path) -> (i32, String) {
        let port = self.edge.https_port();
        let (code, _, err) = curl(&[
            "-s".into(),
            "-o".into(),
            "/dev/null".into(),
            "--cacert".into(),
            root.display().to_string(),
            "--connect-to".into(),
            format!("{host}:{port}:127.0.0.1:{port}"),
            format!("https://{host}:{port}/"),
        ])
        .await;
        (code, err)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_by_dns01_waits_for_its_records_then_a_single_name_by_http01() {
    let s = Setup::start(&[]).await;

    let wild = s.reserve("*.customer1.example.test").await;
    let wild_id = wild["id"].as_str().unwrap().to_string();
    // The records are not there yet: the pre-flight says so, and nothing is asked of the CA.
    let mut job = Value::Null;
    for _ in 0..60 {
        let (_, d) = s
            .edge
            .api("GET", &format!("/reserved_domains/{wild_id}"), None)
            .await;
        job = d["certificate_management_status"]["provisioning_job"].clone();
        if job["error_code"] == "DNS_ERROR" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(job["error_code"], "DNS_ERROR", "{job}");
    assert!(
        job["msg"]
            .as_str()
            .unwrap()
            .contains("_acme-challenge.customer1.example.test"),
        "{job}"
    );
    assert!(job["retries_at"].is_string(), "{job}");

    s.create_records(&wild);
    let d = s.issued(&wild_id).await;
    assert!(
        d["certificate_management_status"]["renews_at"].is_string(),
        "{d}"
    );
    let cert_id = d["certificate"]["id"].as_str().unwrap();
    let (status, cert) = s
        .edge
        .api("GET", &format!("/tls_certificates/{cert_id}"), None)
        .await;
    assert_eq!(status, 200, "{cert}");
    assert_eq!(
        cert["subject_alternative_names"]["dns_names"],
        json!(["*.customer1.example.test"]),
        "{cert}"
    );
    assert!(cert.get("private_key_pem").is_none(), "{cert}");
    assert_eq!(cert["private_key_type"], "ecdsa", "{cert}");
    let root = s.issuing_root().await;
    let (code, err) = s.curl_verified("api.customer1.example.test", &root).await;
    assert_eq!(code, 0, "curl with pebble's root: {err}");
    // The DNS-01 record is withdrawn once the job is done: the target is NODATA again.
    let target = wild["acme_challenge_cname_target"].as_str().unwrap();
    let dns = s.edge.ready["dns"].as_str().unwrap();
    let (host, port) = dns.rsplit_once(':').unwrap();
    let out = std::process::Command::new("dig")
        .args([&format!("@{host}"), "-p", port, "+short", "TXT", target])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "TXT still at {target}"
    );

    // The policy's key type is honoured.
    let single = s
        .reserve_with(json!({
            "domain": "app.example.test",
            "certificate_management_policy": {"authority": "letsencrypt", "private_key_type": "rsa"},
        }))
        .await;
    s.create_records(&single);
    let id = single["id"].as_str().unwrap();
    let d = s.issued(id).await;
    let cert_id = d["certificate"]["id"].as_str().unwrap();
    let (_, cert) = s
        .edge
        .api("GET", &format!("/tls_certificates/{cert_id}"), None)
        .await;
    assert_eq!(cert["private_key_type"], "rsa", "{cert}");
    let (code, err) = s.curl_verified("app.example.test", &root).await;
    assert_eq!(code, 0, "curl with pebble's root: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_name_by_tls_alpn01() {
    let s = Setup::start(&["--acme-challenge", "tls-alpn-01"]).await;
    let d = s.reserve("alpn.example.test").await;
    s.create_records(&d);
    s.issued(d["id"].as_str().unwrap()).await;
    let root = s.issuing_root().await;
    let (code, err) = s.curl_verified("alpn.example.test", &root).await;
    assert_eq!(code, 0, "curl with pebble's root: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_a_kill_9_and_finishes_after_the_restart() {
    let mut s = Setup::start(&[]).await;
    let d = s.reserve("*.resume.example.test").await;
    let id = d["id"].as_str().unwrap().to_string();
    let path = format!("/reserved_domains/{id}");
    let edge = &s.edge;
    eventually("the job's first attempt", Duration::from_secs(20), || {
        let path = path.clone();
        async move {
            let (_, d) = edge.api("GET", &path, None).await;
            d["certificate_management_status"]["provisioning_job"]["error_code"] == "DNS_ERROR"
        }
    })
    .await;
    s.edge.kill_and_restart().await;
    // The same ports (kill_and_restart pins https and http), so pebble still reaches it; its
    // DNS port is new.
    let dns = s.edge.ready["dns"].as_str().unwrap().parse().unwrap();
    s.customer.follow_into(dns);
    let (_, after) = s.edge.api("GET", &path, None).await;
    assert_eq!(
        after["certificate_management_status"]["provisioning_job"]["error_code"], "DNS_ERROR",
        "{after}"
    );
    s.create_records(&d);
    s.issued(&id).await;
    let root = s.issuing_root().await;
    let (code, err) = s.curl_verified("x.resume.example.test", &root).await;
    assert_eq!(code, 0, "curl with pebble's root: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_ingress_by_dns01_in_its_delegated_zone() {
    let s = Setup::start(&[]).await;
    let body = json!({
        "domain": "connect.example.test",
        "certificate_management_policy": {"authority": "letsencrypt", "private_key_type": "ecdsa"},
    });
    let (status, a) = s
        .edge
        .api("POST", "/agent_ingresses", Some(&body.to_string()))
        .await;
    assert_eq!(status, 201, "{a}");
    let path = format!("/agent_ingresses/{}", a["id"].as_str().unwrap());
    // Not delegated yet: the pre-flight names the NS records.
    let edge = &s.edge;
    eventually(
        "DNS_ERROR before the delegation",
        Duration::from_secs(20),
        || {
            let path = path.clone();
            async move {
                let (_, a) = edge.api("GET", &path, None).await;
                let job = &a["certificate_management_status"]["provisioning_job"];
                job["error_code"] == "DNS_ERROR"
                    && job["msg"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("connect.example.test")
            }
        },
    )
    .await;

    let ns: Vec<String> = a["ns_targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    s.customer.set("connect.example.test", Rec::Ns(ns));
    let mut last = Value::Null;
    for _ in 0..120 {
        let (_, a) = s.edge.api("GET", &path, None).await;
        if a["certificate_management_status"]["renews_at"].is_string() {
            last = a;
            break;
        }
        last = a;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        last["certificate_management_status"]["provisioning_job"].is_null(),
        "{last}\n{}",
        s.edge.proc.as_ref().unwrap().output()
    );

    // The agent ingress now presents the CA's certificate for its names.
    let root = s.issuing_root().await;
    for name in ["connect.example.test", "tunnel.local.connect.example.test"] {
        let out = tokio::process::Command::new("openssl")
            .args(["s_client", "-verify_return_error", "-connect"])
            .arg(format!("127.0.0.1:{}", s.edge.https_port()))
            .args(["-servername", name, "-verify_hostname", name, "-CAfile"])
            .arg(&root)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "{name}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_its_own_domain_with_a_managed_certificate() {
    let s = Setup::start_with_records(
        &["--api-domain", "api.example.test"],
        &[("api.example.test", Rec::A(std::net::Ipv4Addr::LOCALHOST))],
    )
    .await;
    let root = s.issuing_root().await;
    let port = s.edge.https_port();
    let args = vec![
        "-s".to_string(),
        "--cacert".into(),
        root.display().to_string(),
        "--connect-to".into(),
        format!("api.example.test:{port}:127.0.0.1:{port}"),
        "-H".into(),
        format!("Authorization: Bearer {}", s.edge.api_key),
        "-H".into(),
        "Ngrok-Version: 2".into(),
        format!("https://api.example.test:{port}/reserved_domains"),
    ];
    let mut last = (0, String::new(), String::new());
    for _ in 0..120 {
        last = curl(&args).await;
        if last.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        last.0,
        0,
        "{last:?}\n{}",
        s.edge.proc.as_ref().unwrap().output()
    );
    // The dashboard is served there too, its cookie marked Secure.
    let (code, head, err) = curl(&[
        "-s".into(),
        "-D".into(),
        "-".into(),
        "-o".into(),
        "/dev/null".into(),
        "--cacert".into(),
        root.display().to_string(),
        "--connect-to".into(),
        format!("api.example.test:{port}:127.0.0.1:{port}"),
        format!("https://api.example.test:{port}/"),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let list: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(
        list["uri"],
        format!("https://api.example.test:{port}/reserved_domains"),
        "{list}"
    );
}
