//! The inspection page in Debian's headless Chromium, driven by playwright-core
//! (tests/browser; scripts/test.sh installs both).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::harness::{curl, Edge};
use crate::upstream::HttpUpstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspection_page_lists_shows_and_replays_requests() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/inspect.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let artifacts = root.join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("inspect.png");
    let _ = std::fs::remove_file(&shot);

    let edge = Edge::start().await;
    let up = HttpUpstream::start("browser").await;
    let agent = edge
        .agent(
            "http",
            &[
                &up.port(),
                "--domain",
                "browser.example.test",
                "--web-addr",
                "127.0.0.1:0",
            ],
        )
        .await;
    let web = agent.ready["web_addr"].as_str().unwrap().to_string();

    let mut node = tokio::process::Command::new("node")
        .arg(&script)
        .arg(format!("http://{web}/"))
        .arg(&shot)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut stdin = node.stdin.take().unwrap();
    assert_eq!(next_line(&mut lines).await.as_deref(), Some("PAGE_READY"));
    let before = up.requests.load(std::sync::atomic::Ordering::SeqCst);
    let (code, body, err) = curl(&edge.curl_https("browser.example.test", "/browser-check")).await;
    assert_eq!((code, body.as_str()), (0, "hello from browser"), "{err}");
    stdin.write_all(b"sent\n").await.unwrap();
    assert_eq!(next_line(&mut lines).await.as_deref(), Some("DONE"));
    let status = tokio::time::timeout(Duration::from_secs(30), node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(shot.exists(), "no screenshot at {}", shot.display());
    assert_eq!(
        up.requests.load(std::sync::atomic::Ordering::SeqCst),
        before + 2,
        "the replay did not reach the upstream"
    );
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("node answers in time")
        .expect("node's stdout")
}
