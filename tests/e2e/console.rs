//! The live status screen, in a real terminal (tmux), read back with capture-pane.

use std::process::Command;
use std::time::Duration;

use crate::harness::{curl, eventually, Edge, BIN};
use crate::upstream::HttpUpstream;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "agent"])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_screen_shows_the_session_and_live_requests() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("console").await;
    let tmux = Tmux {
        socket: format!("ferry-test-{}", std::process::id()),
    };
    let cmd = format!(
        "{BIN} http {} --domain console.example.test --authtoken {} --server-addr {} --root-cas {} --web-addr 127.0.0.1:0",
        up.port(),
        edge.token,
        edge.agent_addr(),
        edge.ca.display()
    );
    let status = Command::new("tmux")
        .args([
            "-L",
            &tmux.socket,
            "new-session",
            "-d",
            "-s",
            "agent",
            "-x",
            "120",
            "-y",
            "40",
            &cmd,
        ])
        .env_remove("FERRY_LOG")
        .status()
        .expect("tmux starts");
    assert!(status.success());
    let url = format!("https://console.example.test:{}", edge.https_port());
    eventually("the status screen", Duration::from_secs(20), || {
        let screen = tmux.capture();
        let url = url.clone();
        async move {
            screen.contains("Session Status") && screen.contains("online") && screen.contains(&url)
        }
    })
    .await;
    let screen = tmux.capture();
    assert!(
        screen.contains("Web Interface") && screen.contains("http://127.0.0.1:"),
        "{screen}"
    );
    assert!(
        !screen.contains(" INFO "),
        "log lines leaked onto the status screen:\n{screen}"
    );
    let (code, _, err) = curl(&edge.curl_https("console.example.test", "/tmux-check")).await;
    assert_eq!(code, 0, "{err}");
    eventually("the request on the screen", Duration::from_secs(10), || {
        let screen = tmux.capture();
        async move { screen.contains("GET /tmux-check") && screen.contains("200 OK") }
    })
    .await;
}
