//! Three edge nodes on one PostgreSQL database, each on its own loopback address: an agent
//! on node 1, public clients through nodes 2 and 3 for HTTPS and TLS, their connections
//! carried to node 1 with the client's address kept; every node's API lists the agent's
//! session and tunnel; a name one node serves cannot be bound through another.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{curl, eventually, Edge};
use crate::tls_tcp::{echo_round, generate, tls_connect_at};
use crate::upstream::{tls_echo, HttpUpstream};

/// A sealing key the nodes share, as the contract requires of nodes on one database.
const SECRET_KEY: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";

pub(crate) async fn dev_node(url: &str, name: &str, ip: &str, extra: &[&str]) -> Edge {
    let https = format!("{ip}:0");
    let mut args = vec!["--database-url", url, "--node-name", name];
    if !extra.contains(&"--region") {
        args.extend(["--region", "eu"]);
    }
    args.extend([
        "--public-ip",
        ip,
        "--http-addr",
        &https,
        "--cluster-addr",
        &https,
    ]);
    if !extra.contains(&"--https-addr") {
        args.extend(["--https-addr", &https]);
    }
    args.extend_from_slice(extra);
    Edge::start_with_env(&args, &[("FERRY_SECRET_KEY", SECRET_KEY)]).await
}

/// curl for `https://{host}{path}` through the node at `ip:port`, from the source address
/// 127.0.0.77 so that the upstream can tell the client's address from any node's.
fn via(edge: &Edge, ip: &str, host: &str, path: &str) -> Vec<String> {
    let port = edge.https_port();
    vec![
        "-sS".into(),
        "--interface".into(),
        "127.0.0.77".into(),
        "--cacert".into(),
        edge.ca.display().to_string(),
        "--connect-to".into(),
        format!("{host}:{port}:{ip}:{port}"),
        format!("https://{host}:{port}{path}"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_carries_https_and_tls_to_the_node_that_holds_the_agent() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = dev_node(&url, "n1", "127.0.0.11", &["--region", "us"]).await;
    let mut n2 = dev_node(&url, "n2", "127.0.0.12", &[]).await;
    let n3 = dev_node(&url, "n3", "127.0.0.13", &[]).await;
    // The installation's CA is shared: a joining node's dev.json names the same one, and
    // its credentials appear only where they were first made.
    let ca = std::fs::read_to_string(&n1.ca).unwrap();
    for n in [&n2, &n3] {
        assert_eq!(std::fs::read_to_string(&n.ca).unwrap(), ca);
        assert!(n.token.is_empty() && n.api_key.is_empty());
    }
    n2.token = n1.token.clone();
    n2.api_key = n1.api_key.clone();

    let up = HttpUpstream::start("site").await;
    let _agent = n1
        .agent("http", &[&up.port(), "--domain", "app.example.test"])
        .await;
    for (n, ip) in [(&n2, "127.0.0.12"), (&n3, "127.0.0.13")] {
        let (code, out, err) = curl(&via(n, ip, "app.example.test", "/echo")).await;
        assert_eq!(code, 0, "through {ip}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(
            v["headers"]["x-forwarded-for"], "127.0.0.77",
            "through {ip}: the client's address, not a node's: {v}"
        );
        let host = v["headers"]["host"].as_str().unwrap_or_default();
        assert!(host.starts_with("app.example.test"), "{v}");
    }
    assert_eq!(up.requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Each carrying node counted its connection out, the holding node both in, over the
    // node-to-node TLS it counted too; every node sees three live nodes and a fresh lease.
    let (carried, holder) = (
        crate::metrics::scrape(&n2, &n1.api_key).await,
        crate::metrics::scrape(&n1, &n1.api_key).await,
    );
    let count = crate::metrics::value;
    assert!(
        count(
            &carried,
            "ferry_edge_carried_streams_total{direction=\"out\"}"
        ) >= 1.0
    );
    assert!(
        count(
            &holder,
            "ferry_edge_carried_streams_total{direction=\"in\"}"
        ) >= 2.0
    );
    assert!(
        count(
            &holder,
            "ferry_edge_tls_handshakes_total{listener=\"node\"}"
        ) >= 1.0
    );
    assert_eq!(count(&holder, "ferry_edge_nodes_live"), 3.0);
    assert!(count(&carried, "ferry_edge_lease_age_seconds") < 5.0);

    // TLS passed through untouched: the client trusts the upstream's own CA.
    let certs = generate(n1.dir.path(), "pass.example.test");
    let echo = tls_echo(&certs.join("server-crt.pem"), &certs.join("server-key.pem")).await;
    let _tls_agent = n1
        .agent(
            "tls",
            &[&echo.port().to_string(), "--domain", "pass.example.test"],
        )
        .await;
    let mut tls = tls_connect_at(
        "127.0.0.13",
        &certs.join("ca-crt.pem"),
        "pass.example.test",
        n3.https_port(),
        None,
    )
    .await
    .expect("a TLS connection through node 3");
    assert_eq!(
        echo_round(&mut tls, b"carried by n3").await.unwrap(),
        b"carried by n3"
    );

    // A TCP endpoint is served by the node holding its session, on that node's address.
    let tcp_echo = crate::upstream::TcpEcho::start().await;
    let tcp_agent = n1.agent("tcp", &[&tcp_echo.port()]).await;
    let addr = tcp_agent.url().trim_start_matches("tcp://").to_string();
    assert!(addr.starts_with("127.0.0.11:"), "{addr}");
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert_eq!(
        echo_round(&mut tcp, b"tcp at node 1").await.unwrap(),
        b"tcp at node 1"
    );

    // Every node's API answers for the whole cluster.
    eventually(
        "node 2's API listing node 1's session and tunnels",
        Duration::from_secs(5),
        || async {
            let (_, s) = n2.api("GET", "/tunnel_sessions", None).await;
            let (_, t) = n2.api("GET", "/tunnels", None).await;
            let urls: Vec<&str> = t["tunnels"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t["public_url"].as_str()).collect())
                .unwrap_or_default();
            s["tunnel_sessions"].as_array().map(Vec::len) == Some(3)
                && urls
                    .iter()
                    .any(|u| u.starts_with("https://app.example.test"))
                && urls
                    .iter()
                    .any(|u| u.starts_with("tls://pass.example.test"))
        },
    )
    .await;

    // A command through node 2 for a session node 1 holds reaches node 1, which answers with
    // the agent's own word (Ferry's agent takes no remote commands), not "no such session".
    let (_, sessions) = n2.api("GET", "/tunnel_sessions", None).await;
    let id = sessions["tunnel_sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = n2
        .api("POST", &format!("/tunnel_sessions/{id}/restart"), None)
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("ERR_FERRY_248"), "{v}");

    // An authtoken deleted through node 2 closes its session on node 1.
    let cred = n2
        .created("/credentials", r#"{"description":"short-lived"}"#)
        .await;
    let doomed = n1
        .agent_as(
            cred["token"].as_str().unwrap(),
            "http",
            &[&up.port(), "--domain", "doomed.example.test"],
        )
        .await;
    let (status, _) = n2
        .api(
            "DELETE",
            &format!("/credentials/{}", cred["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    eventually(
        "node 1 closing the session of a token deleted through node 2",
        Duration::from_secs(10),
        || async {
            doomed
                .proc
                .output()
                .contains("no longer accepts this agent's authtoken")
        },
    )
    .await;

    // The name is node 1's: a bind through node 2 is refused, as on one node.
    let other = HttpUpstream::start("other").await;
    let refused = n2.spawn_agent("http", &[&other.port(), "--domain", "app.example.test"]);
    eventually(
        "node 2 refusing a name node 1 serves",
        Duration::from_secs(15),
        || async { refused.output().contains("ERR_FERRY_303") },
    )
    .await;
    refused.signal("KILL");
    let (code, out, _) = curl(&via(&n3, "127.0.0.13", "app.example.test", "/")).await;
    assert_eq!((code, out.as_str()), (0, "hello from site"));
}

/// Two nodes on a fresh database and a Ferry agent for `domain` that knows node 1 then
/// node 2 (started through node 2's harness, whose own `--server-addr` comes second), bound
/// at node 1.
struct Pair {
    n1: Edge,
    n2: Edge,
    up: HttpUpstream,
    agent: crate::harness::Agent,
}

async fn agent_on_the_first_of_two(n1_extra: &[&str], domain: &str) -> Pair {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = dev_node(&url, "n1", "127.0.0.11", n1_extra).await;
    let mut n2 = dev_node(&url, "n2", "127.0.0.12", &[]).await;
    n2.token = n1.token.clone();
    n2.api_key = n1.api_key.clone();
    let up = HttpUpstream::start("site").await;
    let n1_agents = n1.agent_addr();
    let agent = n2
        .agent(
            "http",
            &[&up.port(), "--domain", domain, "--server-addr", &n1_agents],
        )
        .await;
    Pair { n1, n2, up, agent }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_node_dies_serves_its_names_through_the_next_node() {
    let Pair {
        mut n1,
        n2,
        up: _up,
        agent,
    } = agent_on_the_first_of_two(&[], "moves.example.test").await;
    // Each test node has its own port; in production every node's is 443.
    let host_of = |url: &str| {
        url.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default()
    };
    let before = host_of(&agent.url());
    let (code, out, err) = curl(&via(&n2, "127.0.0.12", "moves.example.test", "/")).await;
    assert_eq!((code, out.as_str()), (0, "hello from site"), "{err}");
    let (_, s) = n2.api("GET", "/tunnel_sessions", None).await;
    let first_session = s["tunnel_sessions"][0]["id"].clone();

    drop(n1.proc.take());
    let killed = std::time::Instant::now();
    loop {
        let (code, out, _) = curl(&via(&n2, "127.0.0.12", "moves.example.test", "/")).await;
        if code == 0 && out == "hello from site" {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the name not served through node 2 within 10 s of node 1's kill -9 ({code} {out}); agent:\n{}\nnode 2:\n{}",
            agent.proc.output(),
            n2.proc.as_ref().map(|p| p.output()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = killed.elapsed();
    eprintln!("names back through node 2 {took:?} after node 1's kill -9");
    // Node 2's API: one session, the new one, holding the same tunnel.
    eventually(
        "node 1's session gone from node 2's API",
        Duration::from_secs(10),
        || async {
            let (_, s) = n2.api("GET", "/tunnel_sessions", None).await;
            let ids: Vec<&Value> = s["tunnel_sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| &s["id"])
                .collect();
            ids.len() == 1 && *ids[0] != first_session
        },
    )
    .await;
    let (_, t) = n2.api("GET", "/tunnels", None).await;
    let url = t["tunnels"][0]["public_url"].as_str().unwrap_or_default();
    assert_eq!(host_of(url), before, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_finishes_its_download_while_its_agent_moves_to_the_next() {
    let Pair {
        mut n1,
        n2,
        up: _up,
        agent,
    } = agent_on_the_first_of_two(&["--drain-timeout", "30"], "drain.example.test").await;

    // A download through node 1 at 2 MB/s: about 4 s, so node 1 drains in the middle of it.
    const SIZE: u64 = 8_000_000;
    let file = n1.dir.path().join("download");
    let mut args = via(
        &n1,
        "127.0.0.11",
        "drain.example.test",
        &format!("/bytes/{SIZE}"),
    );
    args.extend([
        "--limit-rate".into(),
        "2M".into(),
        "-o".into(),
        file.display().to_string(),
    ]);
    let download = tokio::spawn(async move { curl(&args).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut proc = n1.proc.take().unwrap();
    proc.signal("TERM");

    // The agent is online on node 2 while node 1 still carries the download.
    eventually(
        "the name served through node 2",
        Duration::from_secs(5),
        || async {
            let (code, out, _) = curl(&via(&n2, "127.0.0.12", "drain.example.test", "/")).await;
            code == 0 && out == "hello from site"
        },
    )
    .await;
    assert!(
        !download.is_finished(),
        "the download was meant to outlast the move"
    );

    let (code, _, err) = download.await.unwrap();
    assert_eq!(code, 0, "the download through the draining node: {err}");
    let body = std::fs::read(&file).unwrap();
    assert_eq!(body.len() as u64, SIZE);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, b)| *b == crate::upstream::pattern_byte(i as u64)),
        "the download arrived intact"
    );
    let status = proc.wait_exit(Duration::from_secs(35)).await;
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", proc.output());
    assert!(
        !agent.proc.output().contains("Session offline"),
        "the agent never went offline: {}",
        agent.proc.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_hear_of_new_tunnels_at_once_even_after_their_listen_connection_is_cut() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = dev_node(&url, "n1", "127.0.0.31", &[]).await;
    let mut n2 = dev_node(&url, "n2", "127.0.0.32", &[]).await;
    n2.api_key = n1.api_key.clone();
    let up = HttpUpstream::start("site").await;
    // Node 2 reads what the others hold every 5 s without a hint; the hint brings it within
    // well under that (3 s leaves room for a loaded machine).
    let listed_by_n2 = |domain: &'static str| {
        let n2 = &n2;
        async move {
            let started = std::time::Instant::now();
            loop {
                let (_, t) = n2.api("GET", "/tunnels", None).await;
                if t.to_string().contains(domain) {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{domain} never listed by node 2: {t}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let _a = n1
        .agent("http", &[&up.port(), "--domain", "first.example.test"])
        .await;
    let took = listed_by_n2("first.example.test").await;
    assert!(took < Duration::from_secs(3), "listed after {took:?}");

    assert!(ferry_store::testing::terminate_listeners(&url).await >= 2);
    let _b = n1
        .agent("http", &[&up.port(), "--domain", "second.example.test"])
        .await;
    let took = listed_by_n2("second.example.test").await;
    assert!(
        took < Duration::from_secs(3),
        "listed {took:?} after the LISTEN connections were cut"
    );
}

/// A TCP relay to PostgreSQL that the test can cut: every connection through it is dropped
/// and new ones are refused until it resumes, as a stopped server looks to its clients.
struct DatabaseGate {
    addr: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    relays: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DatabaseGate {
    async fn start(server: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let relays = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (gate, kept, server) = (open.clone(), relays.clone(), server.to_string());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !gate.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let server = server.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut db) = tokio::net::TcpStream::connect(&server).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut db).await;
                    }
                });
                kept.lock().unwrap().push(relay.abort_handle());
            }
        });
        Self { addr, open, relays }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for r in self.relays.lock().unwrap().drain(..) {
            r.abort();
        }
    }

    fn resume(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` with its server replaced by the gate.
    fn url(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').unwrap();
        let (_, db) = rest.split_once('/').unwrap();
        format!("{scheme_user}@{}/{db}", self.addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_away_for_twelve_seconds_expires_nobody() {
    let direct = ferry_store::testing::fresh_postgres_url().await;
    let server = direct
        .split_once('@')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .to_string();
    let gate = DatabaseGate::start(&server).await;
    let url = gate.url(&direct);
    let n1 = dev_node(&url, "n1", "127.0.0.41", &[]).await;
    let mut n2 = dev_node(&url, "n2", "127.0.0.42", &[]).await;
    n2.api_key = n1.api_key.clone();
    let up = HttpUpstream::start("site").await;
    let agent = n1
        .agent("http", &[&up.port(), "--domain", "steady.example.test"])
        .await;
    let served = || async {
        let (code, out, _) = curl(&via(&n2, "127.0.0.42", "steady.example.test", "/")).await;
        code == 0 && out == "hello from site"
    };
    let listed = || async {
        let (s, t) = n2.api("GET", "/tunnels", None).await;
        s == 200 && t.to_string().contains("steady.example.test")
    };
    eventually(
        "node 2 listing node 1's tunnel",
        Duration::from_secs(5),
        listed,
    )
    .await;
    assert!(served().await);

    gate.cut();
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Both leases have passed; node 2 still carries to node 1 from what it knew.
    assert!(served().await, "carried while the database is away");
    tokio::time::sleep(Duration::from_secs(6)).await;
    gate.resume();

    eventually(
        "node 1's tunnel listed by node 2 again",
        Duration::from_secs(10),
        listed,
    )
    .await;
    assert!(served().await);
    // Some seconds on, once a sweep could have run: still there, and both nodes live.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(
        listed().await,
        "node 1's tunnel swept after the database came back"
    );
    assert!(served().await);
    let (_, s) = n2.api("GET", "/tunnel_sessions", None).await;
    assert_eq!(
        s["tunnel_sessions"].as_array().map(Vec::len),
        Some(1),
        "{s}"
    );
    assert!(
        !agent.proc.output().contains("Session offline"),
        "{}",
        agent.proc.output()
    );
}

/// A `server_addr` name that resolves to several nodes, as `connect.<domain>` does, is tried
/// address by address: with the first node killed, the agent comes back through the second
/// on the same name and port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_addr_that_resolves_to_every_node_is_tried_address_by_address() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    // Both nodes on one port, each on its own address, as nodes behind one name are.
    let port = crate::harness::free_port();
    let a1 = format!("127.0.0.71:{port}");
    let a2 = format!("127.0.0.72:{port}");
    let mut n1 = dev_node(&url, "n1", "127.0.0.71", &["--https-addr", &a1]).await;
    let mut n2 = dev_node(&url, "n2", "127.0.0.72", &["--https-addr", &a2]).await;
    n2.api_key = n1.api_key.clone();
    n1.created("/agent_ingresses", r#"{"domain":"connect.example.test"}"#)
        .await;
    // Node 2's DNS, which outlives node 1 here (each node serves the zones).
    let dns = n2.ready["dns"].as_str().unwrap().to_string();
    eventually(
        "connect.example.test answering both nodes",
        Duration::from_secs(10),
        || async {
            let mut a = crate::dns::dig(&dns, "connect.example.test", "A", false)
                .await
                .data("A");
            a.sort();
            a == ["127.0.0.71", "127.0.0.72"]
        },
    )
    .await;

    let up = HttpUpstream::start("site").await;
    let dir = n1.dir.path();
    let file = dir.join("named.yml");
    std::fs::write(
        &file,
        format!(
            "version: \"2\"\nauthtoken: {}\nserver_addr: connect.example.test:{port}\nroot_cas: {}\ndns_resolver_ips: [\"{dns}\"]\ntunnels:\n  web:\n    proto: http\n    addr: {}\n    domain: named.example.test\n",
            n1.token,
            n1.ca.display(),
            up.port()
        ),
    )
    .unwrap();
    let ready = dir.join("named-ready.json");
    let args: Vec<String> = [
        "start",
        "web",
        "--config",
        &file.display().to_string(),
        "--ready-file",
        &ready.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let mut agent = crate::harness::Proc::spawn("named", &args, dir, &[]);
    crate::harness::wait_ready(&mut agent, &ready).await;

    // Node 2 reads the agent ingress domains every 5 s: it takes agents for the new one by
    // then.
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Both addresses are as near to the agent's resolver: the zone's order holds and the
    // agent is on node 1, the first.
    drop(n1.proc.take());
    let killed = std::time::Instant::now();
    loop {
        let (code, out, _) = curl(&via(&n2, "127.0.0.72", "named.example.test", "/")).await;
        if code == 0 && out == "hello from site" {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the name not served through node 2 ({code} {out}); agent:\n{}",
            agent.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
