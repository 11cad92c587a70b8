//! The live status screen ngrok users know: session status, latency, the web interface,
//! each forwarding URL, connection figures and the last requests, redrawn in place once a
//! second while stdout is a terminal.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use ferry_agent::Agent;

pub async fn run(agent: Agent, web_addr: Option<String>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let screen = render(&agent, web_addr.as_deref()).await;
        let mut out = std::io::stdout().lock();
        // Home the cursor and clear, then draw: the screen is redrawn in place.
        let _ = write!(out, "\x1b[H\x1b[2J{screen}");
        let _ = out.flush();
    }
}

async fn render(agent: &Agent, web_addr: Option<&str>) -> String {
    let mut s = String::new();
    let online = agent.is_online().await;
    let _ = writeln!(s, "Ferry agent{:>60}", "(Ctrl+C to quit)");
    let _ = writeln!(s);
    let row = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "{k:<30}{v}");
    };
    row(
        &mut s,
        "Session Status",
        if online { "online" } else { "reconnecting" },
    );
    row(&mut s, "Version", env!("CARGO_PKG_VERSION"));
    row(&mut s, "Server", agent.server_addr());
    let latency = agent
        .latency()
        .await
        .map(|d| format!("{}ms", d.as_millis()))
        .unwrap_or_else(|| "-".into());
    row(&mut s, "Latency", &latency);
    row(
        &mut s,
        "Web Interface",
        &web_addr
            .map(|w| format!("http://{w}"))
            .unwrap_or_else(|| "off".into()),
    );
    let tunnels = agent.tunnels().await;
    let (mut ttl, mut opn, mut rt1, mut rt5, mut p50, mut p90) =
        (0u64, 0i64, 0.0, 0.0, 0.0f64, 0.0f64);
    for t in &tunnels {
        let url = t.public_url.clone().unwrap_or_else(|| "(binding)".into());
        row(&mut s, "Forwarding", &format!("{url} -> {}", t.addr));
        let c = &t.metrics["conns"];
        ttl += c["count"].as_u64().unwrap_or(0);
        opn += c["gauge"].as_i64().unwrap_or(0);
        rt1 += c["rate1"].as_f64().unwrap_or(0.0);
        rt5 += c["rate5"].as_f64().unwrap_or(0.0);
        p50 = p50.max(c["p50"].as_f64().unwrap_or(0.0));
        p90 = p90.max(c["p90"].as_f64().unwrap_or(0.0));
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<30}{:<8}{:<8}{:<8}{:<8}{:<8}{:<8}",
        "Connections", "ttl", "opn", "rt1", "rt5", "p50", "p90"
    );
    let _ = writeln!(
        s,
        "{:<30}{:<8}{:<8}{:<8.2}{:<8.2}{:<8.2}{:<8.2}",
        "",
        ttl,
        opn,
        rt1,
        rt5,
        p50 / 1e9,
        p90 / 1e9
    );
    let recent = agent.captures().list(10, None);
    if !recent.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "HTTP Requests");
        let _ = writeln!(s, "-------------");
        for c in recent {
            let v = c.to_json();
            let status = v["response"]["status"]
                .as_str()
                .unwrap_or("...")
                .to_string();
            let line = format!("{} {}", c.request.method, c.request.uri);
            let _ = writeln!(s, "{line:<40}{status}");
        }
    }
    s
}
