//! Several edge nodes on one PostgreSQL database: each registers itself with a lease, agent
//! ingresses name every live node's region, and DNS answers each region with its own nodes'
//! addresses, dropping a node killed outright within 10 s and a draining one at once.

use std::time::{Duration, Instant};

use crate::dns::{dig, dig_with};
use crate::harness::{eventually, Edge};

/// A sealing key both nodes share, as the contract requires of nodes on one database.
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn node(url: &str, name: &str, region: &str, ip: &str) -> Edge {
    Edge::start_production_env(
        &[
            "--database-url",
            url,
            "--node-name",
            name,
            "--region",
            region,
            "--public-ip",
            ip,
            "--dns-addr",
            "127.0.0.1:0",
            "--cluster-addr",
            "127.0.0.1:0",
        ],
        &[("FERRY_SECRET_KEY", SECRET_KEY)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_database_share_regions_and_dns_and_a_dead_one_leaves_it() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = node(&url, "n1", "eu", "127.0.0.11").await;
    let mut n2 = node(&url, "n2", "us", "127.0.0.12").await;
    for n in [&n1, &n2] {
        let cluster = n.ready["cluster"].as_str().expect("ready key cluster");
        let addr: std::net::SocketAddr = cluster.parse().unwrap();
        assert_ne!(addr.port(), 0, "{cluster}");
    }

    let v = n1
        .created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    let path = format!("/agent_ingresses/{}", v["id"].as_str().unwrap());
    // n1 learns of n2 at its next lease renewal, within a second.
    eventually(
        "both regions in region_domains",
        Duration::from_secs(5),
        || async {
            let (_, v) = n1.api("GET", &path, None).await;
            let domains: Vec<&str> = v["region_domains"]
                .as_array()
                .map(|a| a.iter().filter_map(|d| d.as_str()).collect())
                .unwrap_or_default();
            domains
                == [
                    "tunnel.eu.connect.example.test",
                    "tunnel.us.connect.example.test",
                ]
        },
    )
    .await;

    let dns = n1.ready["dns"].as_str().unwrap().to_string();
    let us = "tunnel.us.connect.example.test";
    let eu = dig(&dns, "tunnel.eu.connect.example.test", "A", false).await;
    assert_eq!(eu.data("A"), ["127.0.0.11"], "{}", eu.text);
    eventually(
        "n1's DNS answering n2's address",
        Duration::from_secs(15),
        || async { dig(&dns, us, "A", false).await.data("A") == ["127.0.0.12"] },
    )
    .await;
    // The domain itself, like every endpoint name, answers every live node: any node serves
    // any tunnel.
    let apex = |dns: String| async move {
        let mut a = dig(&dns, "connect.example.test", "A", false)
            .await
            .data("A");
        a.sort();
        a
    };
    assert_eq!(apex(dns.clone()).await, ["127.0.0.11", "127.0.0.12"]);
    // Nearest first: the node in the client subnet a resolver passes on (EDNS Client
    // Subnet) leads.
    for near in ["127.0.0.11", "127.0.0.12"] {
        let subnet = format!("+subnet={near}/32");
        let a = dig_with(&dns, "connect.example.test", "A", &[&subnet]).await;
        assert_eq!(a.data("A")[0], near, "{}", a.text);
    }

    // kill -9: n2's lease passes within 5 s, and n1's renewal loop rebuilds its zones.
    drop(n2.proc.take());
    let killed = Instant::now();
    eventually(
        "n2's address gone from n1's DNS",
        Duration::from_secs(10),
        || async {
            let answer = dig(&dns, us, "A", false).await;
            !answer.data("A").contains(&"127.0.0.12".to_string())
        },
    )
    .await;
    assert!(killed.elapsed() < Duration::from_secs(10));
    assert_eq!(apex(dns.clone()).await, ["127.0.0.11"]);
    // n1 itself still answers for its region.
    let eu = dig(&dns, "tunnel.eu.connect.example.test", "A", false).await;
    assert_eq!(eu.data("A"), ["127.0.0.11"], "{}", eu.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_leaves_the_other_nodes_dns_at_once() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = node(&url, "n1", "eu", "127.0.0.11").await;
    let mut n2 = node(&url, "n2", "us", "127.0.0.12").await;
    n1.created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    let dns = n1.ready["dns"].as_str().unwrap().to_string();
    let us = "tunnel.us.connect.example.test";
    eventually(
        "n1's DNS answering n2's address",
        Duration::from_secs(15),
        || async { dig(&dns, us, "A", false).await.data("A") == ["127.0.0.12"] },
    )
    .await;

    let mut proc = n2.proc.take().unwrap();
    proc.signal("TERM");
    // Well before n2's 5 s lease could pass: the drain itself takes it out.
    eventually(
        "n2's address gone from n1's DNS",
        Duration::from_secs(3),
        || async {
            let answer = dig(&dns, us, "A", false).await;
            !answer.data("A").contains(&"127.0.0.12".to_string())
        },
    )
    .await;
    let status = proc.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
}
