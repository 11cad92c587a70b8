//! Restarts without refusals: the health probes flip as an edge drains, and SIGUSR2 hands
//! every listening socket (the TCP endpoints' too) to a new process while clients keep
//! connecting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{curl, eventually, raw_api, wait_ready, Edge, Proc};
use crate::sdk::sdk_session;
use crate::upstream::{HttpUpstream, TcpEcho};
use ngrok::config::ForwarderBuilder;

/// A process this test did not spawn itself (the edge's successor), killed at the end.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .status();
    }
}

fn ready_pid(edge: &Edge) -> Option<u64> {
    let text = std::fs::read_to_string(edge.dir.path().join("edge-ready.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["pid"].as_u64()
}

async fn probe(edge: &Edge, path: &str) -> u16 {
    raw_api(vec![], &format!("{}{path}", edge.api_url()))
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_draining_and_healthz_stays_200() {
    let mut edge = Edge::start().await;
    assert_eq!(probe(&edge, "/healthz").await, 200);
    assert_eq!(probe(&edge, "/readyz").await, 200);
    let up = HttpUpstream::start("probe").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "probe.example.test"])
        .await;
    let args = edge.curl_https("probe.example.test", "/delay/2500");
    let running = tokio::spawn(async move { curl(&args).await });
    eventually(
        "the request reaches the upstream",
        Duration::from_secs(10),
        || async { up.requests.load(Ordering::SeqCst) > 0 },
    )
    .await;
    edge.proc.as_mut().unwrap().signal("TERM");
    // The API listener stays up until the drain ends, so a probe sees "not ready", not a
    // refused connection.
    eventually("/readyz answers 503", Duration::from_secs(2), || async {
        probe(&edge, "/readyz").await == 503
    })
    .await;
    assert_eq!(probe(&edge, "/healthz").await, 200);
    let (code, body, err) = running.await.unwrap();
    assert_eq!((code, body.as_str()), (0, "delayed"), "{err}");
    let status = edge
        .proc
        .as_mut()
        .unwrap()
        .wait_exit(Duration::from_secs(20))
        .await;
    assert_eq!(status.code(), Some(0));
}

/// What one request of the load got: curl's exit code and the HTTP status.
#[derive(Debug)]
struct Outcome {
    host: &'static str,
    at: Duration,
    exit: i32,
    status: String,
}

/// Runs `one` (a request on a new connection: exit code and status) again and again until
/// `stop`, at most 2,000 times and 40 s, and keeps every outcome.
async fn keep_asking<F, Fut>(
    host: &'static str,
    started: Instant,
    stop: Arc<AtomicBool>,
    mut one: F,
) -> Vec<Outcome>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (i32, String)>,
{
    let mut seen = Vec::new();
    while !stop.load(Ordering::SeqCst)
        && seen.len() < 2000
        && started.elapsed() < Duration::from_secs(40)
    {
        let (exit, status) = one().await;
        seen.push(Outcome {
            host,
            at: started.elapsed(),
            exit,
            status,
        });
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigusr2_upgrades_in_place_without_refusing_a_connection() {
    let mut edge = Edge::start_with(&["--tcp-ports", "37000-37999"]).await;
    let up = HttpUpstream::start("upgraded").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "ferry.upgrade.test"])
        .await;
    let sess = sdk_session(&edge, &edge.token).await.expect("SDK connects");
    let _sdk = sess
        .http_endpoint()
        .domain("sdk.upgrade.test")
        .listen_and_forward(format!("http://{}", up.addr).parse().unwrap())
        .await
        .expect("the SDK binds");
    let echo = TcpEcho::start().await;
    let tcp_port = (37000..=37999)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let _tcp = edge
        .agent(
            "tcp",
            &[
                &echo.port(),
                "--remote-addr",
                &format!("127.0.0.1:{tcp_port}"),
            ],
        )
        .await;
    let old_pid = ready_pid(&edge).expect("the ready file carries the pid");

    // Load: a new connection per request to both names, until told to stop (bounded in
    // count and time either way).
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for host in ["ferry.upgrade.test", "sdk.upgrade.test"] {
        let mut args = edge.curl_https(host, "/");
        args.extend([
            "-o".into(),
            "/dev/null".into(),
            "-w".into(),
            "%{http_code}".into(),
        ]);
        load.push(tokio::spawn(keep_asking(
            host,
            started,
            stop.clone(),
            move || {
                let args = args.clone();
                async move {
                    let (exit, status, _) = curl(&args).await;
                    (exit, status)
                }
            },
        )));
    }
    // And a TCP endpoint's port, whose listener is handed over as well.
    load.push(tokio::spawn(keep_asking(
        "tcp",
        started,
        stop.clone(),
        move || async move {
            let result = tokio::time::timeout(Duration::from_secs(10), async {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", tcp_port)).await?;
                s.write_all(b"ping").await?;
                let mut back = [0u8; 4];
                s.read_exact(&mut back).await?;
                Ok::<_, std::io::Error>(back)
            })
            .await;
            match result {
                Ok(Ok(back)) if &back == b"ping" => (0, "200".to_string()),
                Ok(Ok(back)) => (0, format!("{back:?}")),
                Ok(Err(e)) => (1, e.to_string()),
                Err(_) => (1, "timed out".to_string()),
            }
        },
    )));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = started.elapsed();
    let mut old = edge.proc.take().unwrap();
    old.signal("USR2");
    let status = old.wait_exit(Duration::from_secs(15)).await;
    let old_gone = started.elapsed();
    let new_pid = ready_pid(&edge).expect("the new process rewrote the ready file");
    let _successor = (new_pid != old_pid).then(|| KillOnDrop(new_pid as u32));
    assert_eq!(status.code(), Some(0), "{}", old.output());
    assert_ne!(new_pid, old_pid, "{}", old.output());
    assert!(
        old_gone - signalled < Duration::from_secs(10),
        "the old process took {:?} to drain",
        old_gone - signalled
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for l in load {
        outcomes.extend(l.await.unwrap());
    }
    let refused: Vec<_> = outcomes.iter().filter(|o| o.exit != 0).collect();
    assert!(
        refused.is_empty(),
        "connections failed during the upgrade: {refused:?}\nold edge:\n{}",
        old.output()
    );
    // Every name answers again within a few seconds of the signal, and from then on always.
    for host in ["ferry.upgrade.test", "sdk.upgrade.test", "tcp"] {
        let mine: Vec<_> = outcomes.iter().filter(|o| o.host == host).collect();
        let last_bad = mine.iter().rev().find(|o| o.status != "200");
        if let Some(bad) = last_bad {
            assert!(
                bad.at - signalled < Duration::from_secs(3),
                "{host} still failing {:?} after the signal: {bad:?}",
                bad.at - signalled
            );
        }
        assert!(
            mine.iter().any(|o| o.at > old_gone && o.status == "200"),
            "{host} never answered through the new process"
        );
        let bad = mine.iter().filter(|o| o.status != "200").count();
        eprintln!("{host}: {} requests, {bad} not 200", mine.len());
    }
    // The API moved with the rest.
    assert_eq!(probe(&edge, "/readyz").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_the_new_main_pid_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = tokio::net::UnixDatagram::bind(&path).unwrap();
    let notify = path.display().to_string();
    let mut edge = Edge::start_with_env(&[], &[("NOTIFY_SOCKET", &notify)]).await;
    assert_eq!(next(&socket).await, "READY=1\n");

    let mut old = edge.proc.take().unwrap();
    let old_pid = old.child.id();
    old.signal("USR2");
    let took_over = next(&socket).await;
    let status = old.wait_exit(Duration::from_secs(15)).await;
    let new_pid = ready_pid(&edge).unwrap();
    let _successor = KillOnDrop(new_pid as u32);
    assert_eq!(status.code(), Some(0));
    assert_ne!(new_pid, u64::from(old_pid));
    assert_eq!(took_over, format!("MAINPID={new_pid}\nREADY=1\n"));

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &new_pid.to_string()])
        .status();
    assert_eq!(next(&socket).await, "STOPPING=1\n");
}

/// The next datagram the edge sent to its `NOTIFY_SOCKET`.
async fn next(socket: &tokio::net::UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(15), socket.recv(&mut buf))
        .await
        .expect("a notification within 15 s")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_leaves_the_running_edge_serving() {
    // The edge runs from a copy of the binary that is gone by the time of SIGUSR2, as when
    // a package upgrade failed halfway: the new process cannot start.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ferry-old");
    std::fs::copy(crate::harness::BIN, &copy).unwrap();
    let ready = dir.path().join("ready.json");
    let args: Vec<String> = [
        "edge",
        "--dev",
        "--data-dir",
        &dir.path().join("data").display().to_string(),
        "--ready-file",
        &ready.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut proc = Proc::spawn_program(&copy.display().to_string(), "edge", &args, dir.path(), &[]);
    let api = wait_ready(&mut proc, &ready).await["api_url"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(&copy).unwrap();

    proc.signal("USR2");
    eventually("the failure is logged", Duration::from_secs(10), || async {
        proc.output().contains("ERR_FERRY_950")
    })
    .await;
    assert!(
        proc.child.try_wait().unwrap().is_none(),
        "{}",
        proc.output()
    );
    assert_eq!(raw_api(vec![], &format!("{api}/readyz")).await.0, 200);
    // Still the only process: the ready file names it.
    let text = std::fs::read_to_string(&ready).unwrap();
    let pid = serde_json::from_str::<serde_json::Value>(&text).unwrap()["pid"].as_u64();
    assert_eq!(pid, Some(u64::from(proc.child.id())));
}

/// systemd's socket activation (here systemd's own `systemd-socket-activate`, which listens,
/// waits for the first connection and then starts the edge with the sockets): the roles
/// given by `FileDescriptorName` are served from the passed sockets, the first connection,
/// made before the edge ran, is answered, and the other roles are bound from the flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_socket_activation_hands_the_edge_its_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let (https, api) = (crate::harness::free_port(), crate::harness::free_port());
    let ready = dir.path().join("ready.json");
    let args: Vec<String> = [
        "-l".to_string(),
        format!("127.0.0.1:{https}"),
        "-l".to_string(),
        format!("127.0.0.1:{api}"),
        "--fdname=https:api".to_string(),
        crate::harness::BIN.to_string(),
        "edge".to_string(),
        "--dev".to_string(),
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
        "--ready-file".to_string(),
        ready.display().to_string(),
    ]
    .to_vec();
    let mut proc = Proc::spawn_program("systemd-socket-activate", "edge", &args, dir.path(), &[]);
    // Nothing runs the edge yet: this request is what starts it, and waits in the socket's
    // queue meanwhile.
    let url = format!("http://127.0.0.1:{api}/readyz");
    let mut status = 0;
    for _ in 0..50 {
        let (code, out, _) = curl(&[
            "-w".into(),
            "%{http_code}".into(),
            "-o".into(),
            "/dev/null".into(),
            url.clone(),
        ])
        .await;
        if code == 0 {
            status = out.parse().unwrap_or(0);
            break;
        }
        // Only until systemd-socket-activate itself listens.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "{}", proc.output());
    let ready = wait_ready(&mut proc, &ready).await;
    assert_eq!(ready["https"], format!("127.0.0.1:{https}"));
    assert_eq!(ready["api_url"], format!("http://127.0.0.1:{api}"));
    // exec'd in place: the activator's pid is the edge's, which the harness stops.
    assert_eq!(ready["pid"].as_u64(), Some(u64::from(proc.child.id())));
    assert_ne!(ready["http"], serde_json::Value::Null);
}
