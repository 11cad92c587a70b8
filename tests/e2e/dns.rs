//! Ferry's authoritative DNS as a resolver and an operator see it: real `dig` over UDP and
//! TCP against the address in the ready file, with names created and deleted through the
//! REST API and a DNS-01 challenge written to the store as the ACME job writes it.

use std::time::Duration;

use crate::harness::{eventually, Edge};

/// What dig printed, in the parts the tests look at.
#[derive(Debug)]
pub(crate) struct Dig {
    status: String,
    authoritative: bool,
    /// Each record of the answer section, split on white space: name, TTL, class, type,
    /// data...
    answer: Vec<Vec<String>>,
    authority: Vec<Vec<String>>,
    pub(crate) text: String,
}

impl Dig {
    /// The data of the answer records of `rtype`, joined with spaces.
    pub(crate) fn data(&self, rtype: &str) -> Vec<String> {
        self.answer
            .iter()
            .filter(|r| r.get(3).is_some_and(|t| t == rtype))
            .map(|r| r[4..].join(" "))
            .collect()
    }

    fn assert_status(&self, status: &str, authoritative: bool) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.authoritative, authoritative, "{}", self.text);
    }

    /// NOERROR with no answer and the zone's SOA in authority: the name exists, the type
    /// does not.
    fn assert_nodata(&self, zone: &str) {
        self.assert_status("NOERROR", true);
        assert!(self.answer.is_empty(), "{}", self.text);
        self.assert_soa_authority(zone);
    }

    fn assert_nxdomain(&self, zone: &str) {
        self.assert_status("NXDOMAIN", true);
        assert!(self.answer.is_empty(), "{}", self.text);
        self.assert_soa_authority(zone);
    }

    fn assert_soa_authority(&self, zone: &str) {
        assert_eq!(self.authority.len(), 1, "{}", self.text);
        assert_eq!(self.authority[0][0], format!("{zone}."), "{}", self.text);
        assert_eq!(self.authority[0][3], "SOA", "{}", self.text);
    }
}

/// `dig @server name rtype`, over TCP when `tcp`.
pub(crate) async fn dig(server: &str, name: &str, rtype: &str, tcp: bool) -> Dig {
    dig_with(server, name, rtype, if tcp { &["+tcp"] } else { &[] }).await
}

/// `dig @server name rtype` with more of dig's options (`+tcp`, `+subnet=...`).
pub(crate) async fn dig_with(server: &str, name: &str, rtype: &str, options: &[&str]) -> Dig {
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let mut cmd = tokio::process::Command::new("dig");
    cmd.args([
        &format!("@{host}"),
        "-p",
        port,
        name,
        rtype,
        "+norecurse",
        "+time=3",
        "+tries=2",
    ]);
    cmd.args(options);
    let out = cmd
        .output()
        .await
        .expect("dig runs (Debian's bind9-dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "dig {name} {rtype}: {text}");
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_default()
        .to_string();
    let flags = text
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_default();
    let authoritative = flags
        .trim_start_matches(";; flags:")
        .split(';')
        .next()
        .is_some_and(|f| f.split_whitespace().any(|x| x == "aa"));
    let section = |title: &str| -> Vec<Vec<String>> {
        text.lines()
            .skip_while(|l| !l.starts_with(&format!(";; {title} SECTION:")))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    Dig {
        status,
        authoritative,
        answer: section("ANSWER"),
        authority: section("AUTHORITY"),
        text,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_reads_the_zones_of_a_dev_edge_over_udp_and_tcp() {
    let edge = Edge::start().await;
    let dns = edge.ready["dns"]
        .as_str()
        .expect("the ready file has `dns` in dev mode")
        .to_string();
    assert!(dns.starts_with("127.0.0.1:"), "{dns}");

    // Before the agent ingress exists its domain is none of Ferry's business.
    dig(&dns, "connect.example.test", "SOA", false)
        .await
        .assert_status("REFUSED", false);

    edge.created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    let rd = edge
        .created(
            "/reserved_domains",
            r#"{"domain":"*.customer1.example.test"}"#,
        )
        .await;
    let cname = rd["cname_target"]
        .as_str()
        .expect("cname_target")
        .to_string();
    let acme = rd["acme_challenge_cname_target"]
        .as_str()
        .expect("acme_challenge_cname_target")
        .to_string();
    assert!(cname.ends_with(".cname.ferry.localhost"), "{cname}");
    assert!(acme.ends_with(".ferry.localhost"), "{acme}");

    for tcp in [false, true] {
        // The API answered only once DNS agreed: no waiting.
        let soa = dig(&dns, "connect.example.test", "SOA", tcp).await;
        soa.assert_status("NOERROR", true);
        let data = soa.data("SOA");
        assert_eq!(data.len(), 1, "{}", soa.text);
        assert!(
            data[0].starts_with("ns1.ferry.localhost. hostmaster.connect.example.test."),
            "{}",
            soa.text
        );
        // The SOA minimum: negative answers are cached for 5 s only.
        assert!(data[0].ends_with(" 5"), "{}", soa.text);

        let ns = dig(&dns, "connect.example.test", "NS", tcp).await;
        ns.assert_status("NOERROR", true);
        let mut targets = ns.data("NS");
        targets.sort();
        assert_eq!(
            targets,
            ["ns1.ferry.localhost.", "ns2.ferry.localhost."],
            "{}",
            ns.text
        );

        let tunnel = dig(&dns, "tunnel.local.connect.example.test", "A", tcp).await;
        tunnel.assert_status("NOERROR", true);
        assert_eq!(tunnel.data("A"), ["127.0.0.1"], "{}", tunnel.text);
        assert_eq!(
            tunnel.answer[0][1], "60",
            "the default TTL: {}",
            tunnel.text
        );

        let target = dig(&dns, &cname, "A", tcp).await;
        target.assert_status("NOERROR", true);
        assert_eq!(target.data("A"), ["127.0.0.1"], "{}", target.text);

        // No challenge pending: NODATA, never NXDOMAIN.
        dig(&dns, &acme, "TXT", tcp)
            .await
            .assert_nodata("ferry.localhost");

        dig(&dns, "nothing.connect.example.test", "A", tcp)
            .await
            .assert_nxdomain("connect.example.test");
        dig(&dns, "example.com", "A", tcp)
            .await
            .assert_status("REFUSED", false);
        dig(&dns, "ferry.localhost", "SOA", tcp)
            .await
            .assert_status("NOERROR", true);
        let glue = dig(&dns, "ns1.ferry.localhost", "A", tcp).await;
        assert_eq!(glue.data("A"), ["127.0.0.1"], "{}", glue.text);
    }

    // Any case; the question is echoed as asked.
    let mixed = dig(&dns, "TUNNEL.Local.Connect.Example.TEST", "A", false).await;
    assert_eq!(mixed.data("A"), ["127.0.0.1"], "{}", mixed.text);
    assert!(
        mixed.text.contains(";TUNNEL.Local.Connect.Example.TEST."),
        "{}",
        mixed.text
    );

    // A challenge written to the store, as the ACME job writes it, is answered within the
    // edge's 10 s safety-net rebuild even without being told.
    let store = ferry_store::Store::open_sqlite(&edge.dir.path().join("data").join("ferry.db"))
        .await
        .expect("the edge's store");
    store
        .add_dns_challenge(&acme, "challenge-digest-1")
        .await
        .unwrap();
    eventually(
        "the challenge TXT record",
        Duration::from_secs(20),
        || async {
            dig(&dns, &acme, "TXT", false)
                .await
                .data("TXT")
                .contains(&"\"challenge-digest-1\"".to_string())
        },
    )
    .await;
    let txt = dig(&dns, &acme, "TXT", true).await;
    txt.assert_status("NOERROR", true);
    assert_eq!(txt.data("TXT"), ["\"challenge-digest-1\""], "{}", txt.text);
    assert_eq!(
        txt.answer[0][1], "5",
        "challenge records live briefly: {}",
        txt.text
    );

    // Deleted through the API: gone from the answers at once, without a restart.
    let id = rd["id"].as_str().unwrap();
    let (status, _) = edge
        .api("DELETE", &format!("/reserved_domains/{id}"), None)
        .await;
    assert_eq!(status, 204);
    for tcp in [false, true] {
        dig(&dns, &cname, "A", tcp)
            .await
            .assert_nxdomain("ferry.localhost");
    }
    // The challenge row stays until the ACME job removes it, but its name is no longer an
    // acme target: still served, since it is inside the base domain zone.
    store
        .remove_dns_challenge(&acme, "challenge-digest-1")
        .await
        .unwrap();
    eventually("the challenge to go", Duration::from_secs(20), || async {
        dig(&dns, &acme, "TXT", false).await.status == "NXDOMAIN"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_dev_mode_dns_is_served_only_when_asked_for() {
    let plain = Edge::start_production(&[]).await;
    assert!(plain.ready.get("dns").is_none(), "{}", plain.ready);
    drop(plain);

    let edge = Edge::start_production(&[
        "--dns-addr",
        "127.0.0.1:0",
        "--public-ip",
        "127.0.0.2",
        "--public-ip",
        "::1",
        "--region",
        "eu",
        "--region",
        "us",
        "--base-domain",
        "ferry.example.test",
        "--dns-ttl",
        "300",
    ])
    .await;
    let dns = edge.ready["dns"].as_str().expect("dns").to_string();
    let v = edge
        .created("/agent_ingresses", r#"{"domain":"connect.customer.test"}"#)
        .await;
    assert_eq!(
        v["region_domains"],
        serde_json::json!([
            "tunnel.eu.connect.customer.test",
            "tunnel.us.connect.customer.test"
        ])
    );
    for region in ["eu", "us"] {
        let name = format!("tunnel.{region}.connect.customer.test");
        let a = dig(&dns, &name, "A", false).await;
        assert_eq!(a.data("A"), ["127.0.0.2"], "{}", a.text);
        assert_eq!(a.answer[0][1], "300", "{}", a.text);
        let aaaa = dig(&dns, &name, "AAAA", true).await;
        assert_eq!(aaaa.data("AAAA"), ["::1"], "{}", aaaa.text);
    }
    let ns = dig(&dns, "connect.customer.test", "NS", false).await;
    let mut targets = ns.data("NS");
    targets.sort();
    assert_eq!(
        targets,
        ["ns1.ferry.example.test.", "ns2.ferry.example.test."],
        "{}",
        ns.text
    );
    dig(&dns, "tunnel.ap.connect.customer.test", "A", false)
        .await
        .assert_nxdomain("connect.customer.test");
    // A name between the tunnel names and the apex exists, without records.
    dig(&dns, "eu.connect.customer.test", "A", false)
        .await
        .assert_nodata("connect.customer.test");
}
