//! Starts the real `ferry` binary as an edge or an agent on ports picked at run time, waits
//! for its ready file (never a fixed sleep), and kills what it started when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_ferry");
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process that is killed when dropped, with its output kept in files.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, args: &[String], dir: &Path, env: &[(&str, &str)]) -> Proc {
        Self::spawn_program(BIN, name, args, dir, env)
    }

    /// Another program than `ferry` (pebble), run the same way.
    pub fn spawn_program(
        program: &str,
        name: &str,
        args: &[String],
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Proc {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove("FERRY_AUTHTOKEN")
            .env_remove("FERRY_SERVER_ADDR")
            .env_remove("NGROK_AUTHTOKEN")
            .env("FERRY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        // An empty value removes the variable (FERRY_LOG, to let a config file set the level).
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Proc {
            child,
            name: name.to_string(),
            stdout,
            stderr,
        }
    }

    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!(
            "--- {} stdout ---\n{out}\n--- {} stderr ---\n{err}",
            self.name, self.name
        )
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit\n{}",
                self.name,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls for a ready file while checking the process is still alive.
pub async fn wait_ready(proc: &mut Proc, path: &Path) -> Value {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(v) = serde_json::from_str(&text) {
                return v;
            }
        }
        if let Some(status) = proc.child.try_wait().expect("try_wait") {
            panic!(
                "{} exited ({status}) before it was ready\n{}",
                proc.name,
                proc.output()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready in time\n{}",
            proc.name,
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `check` until it returns true.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub struct Edge {
    pub proc: Option<Proc>,
    pub dir: TempDir,
    pub ready: Value,
    pub token: String,
    /// The REST API key: dev.json's, or admin.json's outside dev mode.
    pub api_key: String,
    pub ca: PathBuf,
    extra: Vec<String>,
    /// Environment variables the edge process gets, such as `FERRY_SECRET_KEY`.
    env: Vec<(String, String)>,
    dev: bool,
}

impl Edge {
    pub async fn start() -> Edge {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> Edge {
        Self::start_mode(true, extra).await
    }

    /// An edge outside dev mode: binds need reservations, and the first start makes only an
    /// API key (admin.json), no authtoken.
    /// Its ACME directory is an address nothing listens on unless `extra` gives one, so
    /// that no test asks Let's Encrypt.
    pub async fn start_production(extra: &[&str]) -> Edge {
        Self::start_production_env(extra, &[]).await
    }

    /// [`Edge::start_production`] with environment variables: nodes sharing one database
    /// are all given its `FERRY_SECRET_KEY`.
    pub async fn start_production_env(extra: &[&str], env: &[(&str, &str)]) -> Edge {
        let mut extra = extra.to_vec();
        if !extra.contains(&"--acme-directory") {
            extra.extend(["--acme-directory", "https://127.0.0.1:9/directory"]);
        }
        Self::start_mode_env(false, &extra, env).await
    }

    /// A dev edge with environment variables: dev-mode nodes sharing one database. A node
    /// that joins after the first has no credentials of its own (its dev.json names only the
    /// shared CA): use the first node's.
    pub async fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Edge {
        Self::start_mode_env(true, extra, env).await
    }

    async fn start_mode(dev: bool, extra: &[&str]) -> Edge {
        Self::start_mode_env(dev, extra, &[]).await
    }

    async fn start_mode_env(dev: bool, extra: &[&str], env: &[(&str, &str)]) -> Edge {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut edge = Edge {
            proc: None,
            dir,
            ready: Value::Null,
            token: String::new(),
            api_key: String::new(),
            ca: PathBuf::new(),
            extra,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dev,
        };
        edge.launch(&[]).await;
        edge
    }

    async fn launch(&mut self, pinned: &[String]) {
        let data = self.dir.path().join("data");
        let ready = self.dir.path().join("edge-ready.json");
        let _ = std::fs::remove_file(&ready);
        let mut args = vec![
            "edge".to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--ready-file".into(),
            ready.display().to_string(),
        ];
        if self.dev {
            args.push("--dev".into());
        }
        args.extend(self.extra.iter().cloned());
        args.extend(pinned.iter().cloned());
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut proc = Proc::spawn("edge", &args, self.dir.path(), &env);
        self.ready = wait_ready(&mut proc, &ready).await;
        let file = if self.dev { "dev.json" } else { "admin.json" };
        let dev: Value = serde_json::from_str(
            &std::fs::read_to_string(data.join(file)).expect("dev.json or admin.json"),
        )
        .expect("dev.json is JSON");
        self.token = dev["authtoken"].as_str().unwrap_or_default().to_string();
        self.api_key = dev["api_key"].as_str().unwrap_or_default().to_string();
        self.ca = PathBuf::from(dev["ca_cert"].as_str().expect("ca_cert"));
        self.proc = Some(proc);
    }

    /// Kills the edge with SIGKILL and starts it again on the same data dir and ports.
    pub async fn kill_and_restart(&mut self) {
        let https = self.ready["https"].as_str().unwrap().to_string();
        let http = self.ready["http"].as_str().unwrap().to_string();
        drop(self.proc.take());
        let mut pinned = Vec::new();
        for (flag, addr) in [("--https-addr", https), ("--http-addr", http)] {
            if !self.extra.iter().any(|a| a == flag) {
                pinned.extend([flag.to_string(), addr]);
            }
        }
        self.launch(&pinned).await;
    }

    pub fn api_url(&self) -> String {
        self.ready["api_url"].as_str().expect("api_url").to_string()
    }

    /// One REST call with the edge's API key and `Ngrok-Version: 2`, as the guides make it;
    /// returns the status and the JSON body (`Null` when empty).
    pub async fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.api_url())
        };
        let mut args = vec![
            "-X".to_string(),
            method.into(),
            "-H".into(),
            format!("Authorization: Bearer {}", self.api_key),
            "-H".into(),
            "Ngrok-Version: 2".into(),
        ];
        if let Some(b) = body {
            args.extend([
                "-H".into(),
                "Content-Type: application/json".into(),
                "-d".into(),
                b.into(),
            ]);
        }
        raw_api(args, &url).await
    }

    /// `POST path` with `body`, which must answer 201; returns the created resource.
    pub async fn created(&self, path: &str, body: &str) -> Value {
        let (status, v) = self.api("POST", path, Some(body)).await;
        assert_eq!(status, 201, "POST {path} {body}: {v}");
        v
    }

    pub fn agent_addr(&self) -> String {
        self.ready["agent_ingress"].as_str().unwrap().to_string()
    }

    pub fn https_port(&self) -> u16 {
        port_of(self.ready["https"].as_str().unwrap())
    }

    pub fn http_port(&self) -> u16 {
        port_of(self.ready["http"].as_str().unwrap())
    }

    /// `curl` aimed at `host` on the edge's HTTPS port, trusting the dev CA.
    pub fn curl_https(&self, host: &str, path: &str) -> Vec<String> {
        let port = self.https_port();
        vec![
            "--cacert".into(),
            self.ca.display().to_string(),
            "--connect-to".into(),
            format!("{host}:{port}:127.0.0.1:{port}"),
            format!("https://{host}:{port}{path}"),
        ]
    }

    /// Starts a Ferry agent: `verb` is http, tls or tcp, `args` the verb's own arguments.
    pub async fn agent(&self, verb: &str, args: &[&str]) -> Agent {
        let mut proc = self.spawn_agent(verb, args);
        let ready_path = self.agent_ready_path(&proc);
        let ready = wait_ready(&mut proc, &ready_path).await;
        Agent { proc, ready }
    }

    /// Starts a Ferry agent with `token` instead of the dev authtoken.
    pub async fn agent_as(&self, token: &str, verb: &str, args: &[&str]) -> Agent {
        let mut proc = self.spawn_agent_as(token, verb, args);
        let ready_path = self.agent_ready_path(&proc);
        let ready = wait_ready(&mut proc, &ready_path).await;
        Agent { proc, ready }
    }

    pub fn spawn_agent(&self, verb: &str, args: &[&str]) -> Proc {
        self.spawn_agent_as(&self.token.clone(), verb, args)
    }

    pub fn spawn_agent_as(&self, token: &str, verb: &str, args: &[&str]) -> Proc {
        let n = NEXT_AGENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("agent{n}");
        let ready = self.dir.path().join(format!("{name}-ready.json"));
        let mut all: Vec<String> = vec![verb.to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        all.extend([
            "--authtoken".to_string(),
            token.to_string(),
            "--server-addr".into(),
            self.agent_addr(),
            "--root-cas".into(),
            self.ca.display().to_string(),
            "--ready-file".into(),
            ready.display().to_string(),
        ]);
        Proc::spawn(&name, &all, self.dir.path(), &[])
    }

    pub fn agent_ready_path(&self, proc: &Proc) -> PathBuf {
        self.dir.path().join(format!("{}-ready.json", proc.name))
    }
}

static NEXT_AGENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct Agent {
    pub proc: Proc,
    pub ready: Value,
}

impl Agent {
    pub fn url(&self) -> String {
        self.ready["tunnels"][0]["public_url"]
            .as_str()
            .expect("public_url")
            .to_string()
    }
}

/// A loopback port free now, for a server that cannot be told to pick one and report it
/// (another process may take it before the server binds it; rare enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// Runs curl and returns (exit code, stdout, stderr).
pub async fn curl(args: &[String]) -> (i32, String, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs curl with `args` against `url` and returns the status and the JSON body.
pub async fn raw_api(mut args: Vec<String>, url: &str) -> (u16, Value) {
    args.extend(["-w".into(), "\n%{http_code}".into(), url.into()]);
    let (code, out, err) = curl(&args).await;
    assert_eq!(code, 0, "curl {url}: {err}");
    let (body, status) = out.rsplit_once('\n').expect("status line");
    let value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {body}"))
    };
    (status.trim().parse().expect("status"), value)
}
