//! Starts the paths the same work takes: straight to the origin, through a Ferry edge and
//! agent (HTTPS at the edge, TLS between agent and edge), through rathole with its TLS
//! transport, and the two HTTPS stacks a self-hoster would build instead of Ferry: nginx
//! terminating TLS in front of rathole, and nginx alone. Every path ends at the same origin
//! and iperf3 server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio_rustls::TlsConnector;

use crate::procs::{free_port, Proc};

/// The domain the Ferry HTTP endpoint serves; the load generator connects by address and
/// names it in SNI and Host, so nothing needs to resolve.
pub const DOMAIN: &str = "bench.example.test";
pub const QUIET_DOMAIN: &str = "quiet.bench.example.test";
/// A TLS endpoint the edge terminates, its bytes spliced to the same origin.
pub const BYTES_DOMAIN: &str = "bytes.bench.example.test";
const READY: Duration = Duration::from_secs(60);

/// Where an HTTP client sends its requests on one path.
#[derive(Clone)]
pub struct HttpTarget {
    pub addr: SocketAddr,
    pub host: String,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// One way from the load generator to the origin.
pub struct PathUnderTest {
    pub name: &'static str,
    /// HTTP with keep-alive: HTTPS at a Ferry edge and at nginx, plain HTTP elsewhere.
    pub http: HttpTarget,
    /// Ferry's second HTTPS endpoint, whose tunnel has inspection off (the agent splices).
    pub http_quiet: Option<HttpTarget>,
    /// Ferry's TLS endpoint terminated at the edge in front of the same origin: the same
    /// HTTPS requests carried as bytes, with no HTTP handling at edge or agent. Its CPU per
    /// request is the floor any work on Ferry's HTTP path can reach.
    pub http_bytes: Option<HttpTarget>,
    /// Plain HTTP over a TCP relay, for fresh connections; none through nginx, which
    /// terminates HTTPS and has no TCP relay to compare.
    pub http_tcp: Option<SocketAddr>,
    /// TCP relays to iperf3 and the echo server; none through nginx.
    pub iperf: Option<SocketAddr>,
    pub echo: Option<SocketAddr>,
    /// The relay's processes, each with what it does there; none for the direct path.
    pub relay: Vec<(Role, Proc)>,
}

/// What a relay process does on its path: the table reports its CPU per request in that
/// role's row, and memory only for paths that are exactly a server and a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Ferry's edge, rathole's server: where the public connections arrive.
    Server,
    /// Ferry's agent, rathole's client: beside the origin.
    Client,
    /// nginx, terminating TLS and proxying HTTP.
    Proxy,
}

/// The origin and iperf3 server, shared by every path.
pub struct Origin {
    pub http: SocketAddr,
    pub echo: SocketAddr,
    pub iperf: SocketAddr,
    _procs: Vec<Proc>,
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub fn str_of<'a>(v: &'a Value, key: &str, file: &str) -> anyhow::Result<&'a str> {
    v[key]
        .as_str()
        .with_context(|| format!("{file}: no string {key:?} in {v}"))
}

pub async fn origin(dir: &Path, iperf3: &str) -> anyhow::Result<Origin> {
    let exe = std::env::current_exe()?;
    let mut o = Proc::spawn("origin", Command::new(exe).arg("origin"), dir)?;
    let ports = o
        .wait_for("ports on stdout", READY, |p| {
            serde_json::from_str::<Value>(p.log().lines().next()?).ok()
        })
        .await?;
    let port = |k: &str| {
        ports[k]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("origin printed no {k} port: {ports}"))
    };
    let iperf_port = free_port()?;
    let mut i = Proc::spawn(
        "iperf3-server",
        Command::new(iperf3)
            .args(["-s", "--forceflush", "-B", "127.0.0.1", "-p"])
            .arg(iperf_port.to_string()),
        dir,
    )?;
    i.wait_for("listening", READY, |p| {
        p.log().contains("listening").then_some(())
    })
    .await?;
    Ok(Origin {
        http: loopback(port("http")?),
        echo: loopback(port("echo")?),
        iperf: loopback(iperf_port),
        _procs: vec![o, i],
    })
}

pub fn direct(origin: &Origin) -> PathUnderTest {
    PathUnderTest {
        name: "direct",
        http: HttpTarget {
            addr: origin.http,
            host: origin.http.to_string(),
            tls: None,
        },
        http_quiet: None,
        http_bytes: None,
        http_tcp: Some(origin.http),
        iperf: Some(origin.iperf),
        echo: Some(origin.echo),
        relay: Vec::new(),
    }
}

/// A dev edge and one agent with four tunnels: the HTTPS endpoint, and TCP endpoints to the
/// origin's HTTP port, to iperf3 and to the echo server.
pub async fn ferry(
    dir: &Path,
    ferry: &Path,
    origin: &Origin,
    data_connections: Option<u8>,
) -> anyhow::Result<PathUnderTest> {
    let data = dir.join("ferry-data");
    let edge_ready = dir.join("edge-ready.json");
    let mut edge = Proc::spawn(
        "ferry-edge",
        Command::new(ferry)
            .args(["edge", "--dev", "--data-dir"])
            .arg(&data)
            .arg("--ready-file")
            .arg(&edge_ready),
        dir,
    )?;
    let ready = edge
        .wait_for("ready file", READY, |_| read_json(&edge_ready))
        .await?;
    let dev = read_json(&data.join("dev.json")).context("reading the edge's dev.json")?;
    let token = str_of(&dev, "authtoken", "dev.json")?;
    let ca = PathBuf::from(str_of(&dev, "ca_cert", "dev.json")?);
    let agent_addr = str_of(&ready, "agent_ingress", "edge ready file")?;
    let https: SocketAddr = str_of(&ready, "https", "edge ready file")?.parse()?;

    let config = dir.join("ferry.yml");
    std::fs::write(
        &config,
        format!(
            "version: \"2\"\n{}tunnels:\n  web:\n    proto: http\n    addr: {}\n    domain: {DOMAIN}\n  quiet:\n    proto: http\n    addr: {}\n    domain: {QUIET_DOMAIN}\n    inspect: false\n  bytes:\n    proto: tls\n    addr: {}\n    domain: {BYTES_DOMAIN}\n    terminate_at: edge\n  conn:\n    proto: tcp\n    addr: {}\n  iperf:\n    proto: tcp\n    addr: {}\n  echo:\n    proto: tcp\n    addr: {}\n",
            data_connections
                .map(|n| format!("data_connections: {n}\n"))
                .unwrap_or_default(),
            origin.http,
            origin.http,
            origin.http,
            origin.http,
            origin.iperf,
            origin.echo
        ),
    )?;
    let agent_ready = dir.join("agent-ready.json");
    let mut agent = Proc::spawn(
        "ferry-agent",
        Command::new(ferry)
            // The agent API and inspector run as they do by default (on a port of their own).
            .args(["start", "--all", "--web-addr", "127.0.0.1:0", "--config"])
            .arg(&config)
            .args([
                "--authtoken",
                token,
                "--server-addr",
                agent_addr,
                "--root-cas",
            ])
            .arg(&ca)
            .arg("--ready-file")
            .arg(&agent_ready),
        dir,
    )?;
    let tunnels = agent
        .wait_for("ready file", READY, |_| read_json(&agent_ready))
        .await?;
    let tcp = |name: &str| -> anyhow::Result<SocketAddr> {
        let list = tunnels["tunnels"]
            .as_array()
            .context("agent ready file: no tunnels")?;
        let url = list
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["public_url"].as_str())
            .with_context(|| format!("agent ready file: no tunnel {name}: {tunnels}"))?;
        let addr = url.strip_prefix("tcp://").unwrap_or(url);
        addr.parse()
            .with_context(|| format!("tunnel {name}: public address {url:?}"))
    };
    let connector = connector(&ca)?;
    Ok(PathUnderTest {
        name: "Ferry",
        http: HttpTarget {
            addr: https,
            host: DOMAIN.into(),
            tls: Some((connector.clone(), ServerName::try_from(DOMAIN)?)),
        },
        http_quiet: Some(HttpTarget {
            addr: https,
            host: QUIET_DOMAIN.into(),
            tls: Some((connector.clone(), ServerName::try_from(QUIET_DOMAIN)?)),
        }),
        http_bytes: Some(HttpTarget {
            addr: https,
            host: BYTES_DOMAIN.into(),
            tls: Some((connector, ServerName::try_from(BYTES_DOMAIN)?)),
        }),
        http_tcp: Some(tcp("conn")?),
        iperf: Some(tcp("iperf")?),
        echo: Some(tcp("echo")?),
        relay: vec![(Role::Server, edge), (Role::Client, agent)],
    })
}

pub fn connector(ca: &Path) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).with_context(|| format!("reading {ca:?}"))?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.with_context(|| format!("{ca:?}: bad certificate"))?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The certificate set rathole and nginx serve: a CA and an ECDSA P-256 leaf for
/// `localhost` (rathole's client checks that name) and [`DOMAIN`] (the name the load
/// generator asks nginx for), made by `ferry certs generate` as a self-hoster would, so the
/// keys are of the kind Ferry's edge serves. Made once per run, in `dir/certs`.
fn certs(dir: &Path, ferry: &Path) -> anyhow::Result<PathBuf> {
    let certs = dir.join("certs");
    if !certs.join("server-crt.pem").exists() {
        run(Command::new(ferry)
            .args([
                "certs",
                "generate",
                "--domain",
                "localhost",
                "--domain",
                DOMAIN,
            ])
            .arg("--out")
            .arg(&certs))?;
    }
    Ok(certs)
}

/// A rathole server and client with the TLS transport and three services.
pub async fn rathole(
    dir: &Path,
    rathole: &Path,
    ferry: &Path,
    origin: &Origin,
) -> anyhow::Result<PathUnderTest> {
    let services = [
        ("web", origin.http),
        ("iperf", origin.iperf),
        ("echo", origin.echo),
    ];
    let (public, relay) = rathole_relay(dir, rathole, &certs(dir, ferry)?, &services).await?;
    Ok(PathUnderTest {
        name: "rathole",
        http: HttpTarget {
            addr: public[0],
            host: public[0].to_string(),
            tls: None,
        },
        http_quiet: None,
        http_bytes: None,
        http_tcp: Some(public[0]),
        iperf: Some(public[1]),
        echo: Some(public[2]),
        relay,
    })
}

/// The stack a self-hoster builds for an HTTPS endpoint with rathole: nginx terminating TLS
/// and proxying HTTP/1.1 with keep-alive to a rathole server's port, the rathole client (TLS
/// transport) forwarding to the origin. A rathole pair of its own, so that its processes'
/// CPU is this path's alone.
pub async fn nginx_rathole(
    dir: &Path,
    nginx_bin: &Path,
    rathole: &Path,
    ferry: &Path,
    origin: &Origin,
) -> anyhow::Result<PathUnderTest> {
    let own = dir.join("nginx-rathole");
    std::fs::create_dir_all(&own).with_context(|| format!("creating {own:?}"))?;
    let certs = certs(dir, ferry)?;
    let (public, mut relay) = rathole_relay(&own, rathole, &certs, &[("web", origin.http)]).await?;
    let (http, proxy) = nginx(&own, nginx_bin, &certs, public[0]).await?;
    relay.insert(0, (Role::Proxy, proxy));
    Ok(PathUnderTest {
        name: "nginx+rathole",
        http,
        http_quiet: None,
        http_bytes: None,
        http_tcp: None,
        iperf: None,
        echo: None,
        relay,
    })
}

/// nginx alone terminating TLS in front of the origin: the practical limit for a
/// TLS-terminating proxy on this machine.
pub async fn nginx_alone(
    dir: &Path,
    nginx_bin: &Path,
    ferry: &Path,
    origin: &Origin,
) -> anyhow::Result<PathUnderTest> {
    let own = dir.join("nginx");
    std::fs::create_dir_all(&own).with_context(|| format!("creating {own:?}"))?;
    let (http, proxy) = nginx(&own, nginx_bin, &certs(dir, ferry)?, origin.http).await?;
    Ok(PathUnderTest {
        name: "nginx",
        http,
        http_quiet: None,
        http_bytes: None,
        http_tcp: None,
        iperf: None,
        echo: None,
        relay: vec![(Role::Proxy, proxy)],
    })
}

/// TLS 1.3 suites in the order Ferry's edge offers them (rustls' defaults with ring), in
/// OpenSSL's names; both serve the client's preference, so both negotiate the same suite.
const TLS13_SUITES: &str =
    "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";

/// Debian's nginx as a child process, with a configuration of its own in `dir` (nothing
/// read or written under /etc or /var): HTTPS on a free loopback port (TLS 1.3 only, the
/// certificate of [`certs`], Ferry's suites and key-exchange groups) proxying to `upstream`
/// over HTTP/1.1 with up to 64 idle keep-alive connections, as a self-hoster's
/// configuration would (`Host` kept, `X-Forwarded-For` and `-Proto` added, as Ferry's edge
/// does). `worker_processes auto`, Debian's default: one worker per core, like the
/// two-thread runtimes of Ferry's edge and agent; the harness counts the workers' CPU.
async fn nginx(
    dir: &Path,
    nginx: &Path,
    certs: &Path,
    upstream: SocketAddr,
) -> anyhow::Result<(HttpTarget, Proc)> {
    let port = free_port()?;
    let d = dir.display();
    let c = certs.display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes auto;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client-body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # The load generator's connections carry requests for the whole run.
    keepalive_requests 100000000;
    upstream origin {{
        server {upstream};
        keepalive 64;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {DOMAIN};
        ssl_certificate {c}/server-crt.pem;
        ssl_certificate_key {c}/server-key.pem;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites {TLS13_SUITES};
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"
        ),
    )?;
    let mut proc = Proc::spawn(
        "nginx",
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr", "-g", "daemon off;"]),
        dir,
    )?;
    let target = HttpTarget {
        addr: loopback(port),
        host: DOMAIN.into(),
        tls: Some((
            connector(&certs.join("ca-crt.pem"))?,
            ServerName::try_from(DOMAIN)?,
        )),
    };
    let deadline = std::time::Instant::now() + READY;
    while !crate::load::probe(&target).await {
        proc.check_alive()?;
        if std::time::Instant::now() > deadline {
            bail!("nginx not answering HTTPS in {READY:?}:\n{}", proc.log());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok((target, proc))
}

/// A rathole server and client with the TLS transport (the certificate of [`certs`], packed
/// as PKCS#12 by openssl) relaying `services`; returns each service's public address, in
/// order, and the two processes (logs and configuration in `dir`).
async fn rathole_relay(
    dir: &Path,
    rathole: &Path,
    certs: &Path,
    services: &[(&str, SocketAddr)],
) -> anyhow::Result<(Vec<SocketAddr>, Vec<(Role, Proc)>)> {
    let pfx = dir.join("rathole-identity.pfx");
    run(Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:ferry-bench", "-out"])
        .arg(&pfx)
        .arg("-inkey")
        .arg(certs.join("server-key.pem"))
        .arg("-in")
        .arg(certs.join("server-crt.pem")))?;

    let control = free_port()?;
    let mut server = format!(
        "[server]\nbind_addr = \"127.0.0.1:{control}\"\n[server.transport]\ntype = \"tls\"\n[server.transport.tls]\npkcs12 = {:?}\npkcs12_password = \"ferry-bench\"\n",
        pfx.display().to_string()
    );
    let mut client = format!(
        "[client]\nremote_addr = \"localhost:{control}\"\n[client.transport]\ntype = \"tls\"\n[client.transport.tls]\ntrusted_root = {:?}\nhostname = \"localhost\"\n",
        certs.join("ca-crt.pem").display().to_string()
    );
    let mut public = Vec::new();
    for (name, local) in services {
        let port = free_port()?;
        public.push(loopback(port));
        server.push_str(&format!(
            "[server.services.{name}]\ntoken = \"ferry-bench\"\nbind_addr = \"127.0.0.1:{port}\"\n"
        ));
        client.push_str(&format!(
            "[client.services.{name}]\ntoken = \"ferry-bench\"\nlocal_addr = \"{local}\"\n"
        ));
    }
    let server_toml = dir.join("rathole-server.toml");
    let client_toml = dir.join("rathole-client.toml");
    std::fs::write(&server_toml, server)?;
    std::fs::write(&client_toml, client)?;
    let s = Proc::spawn(
        "rathole-server",
        Command::new(rathole)
            .arg("-s")
            .arg(&server_toml)
            .env("NO_COLOR", "1"),
        dir,
    )?;
    let mut c = Proc::spawn(
        "rathole-client",
        Command::new(rathole)
            .arg("-c")
            .arg(&client_toml)
            .env("NO_COLOR", "1"),
        dir,
    )?;
    c.wait_for("every control channel", READY, |p| {
        (p.log().matches("Control channel established").count() >= services.len()).then_some(())
    })
    .await?;
    Ok((public, vec![(Role::Server, s), (Role::Client, c)]))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
