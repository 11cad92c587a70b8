//! Operating an edge: its config file (merged under the flags, mistakes named by file, line
//! and column), the systemd units (checked by `systemd-analyze verify`, the agent's command
//! line run as systemd would run it), a backup taken under write load and restored, and a
//! store from a newer Ferry refused untouched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{curl, eventually, free_port, wait_ready, Edge, Proc, BIN};
use crate::upstream::HttpUpstream;

/// Runs `ferry` to completion: (exit code, stdout, stderr).
async fn ferry(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("FERRY_DATABASE_URL")
        .env_remove("FERRY_DATA_DIR")
        .output()
        .await
        .expect("ferry runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

/// An edge whose settings come from a file (a bool, numbers, addresses, a string, a list),
/// one of them overridden by a flag; then the agent unit's ExecStart line, run as systemd
/// would, serves a tunnel through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_from_a_config_file_and_the_agent_units_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (dns_port, file_http, flag_http) = (free_port(), free_port(), free_port());
    let key_file = write(
        &dir.path().join("sealing.key"),
        &format!("{}\n", "ab".repeat(32)),
    );
    let config = write(
        &dir.path().join("edge.yml"),
        &format!(
            "# the edge's settings\n\
             dev: true\n\
             dns_addr: 127.0.0.1:{dns_port}\n\
             http_addr: 127.0.0.1:{file_http}\n\
             base_domain: from-file.test\n\
             region: [us, eu]\n\
             drain_timeout: 2\n\
             heartbeat_interval: 5\n\
             public_ip:\n  - 127.0.0.1\n\
             secret_key_file: {key_file}\n"
        ),
    );
    let flag_http_addr = format!("127.0.0.1:{flag_http}");
    let edge = Edge::start_with(&["--config", &config, "--http-addr", &flag_http_addr]).await;
    assert_eq!(edge.ready["dns"], format!("127.0.0.1:{dns_port}"));
    assert_eq!(
        edge.ready["http"], flag_http_addr,
        "the flag wins over the file"
    );
    let data = edge.dir.path().join("data");
    assert!(
        !data.join("secret.key").exists(),
        "the sealing key came from secret_key_file"
    );

    let (code, out, err) = ferry(&[
        "edge",
        "--http-addr",
        &flag_http_addr,
        "config",
        "check",
        "--config",
        &config,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    for line in [
        "dev: true".to_string(),
        format!("http_addr: {flag_http_addr}"),
        format!("dns_addr: 127.0.0.1:{dns_port}"),
        "region: [us, eu]".into(),
        "drain_timeout: 2".into(),
        "public_ip: [127.0.0.1]".into(),
        "base_domain: from-file.test".into(),
        "handshake_timeout: 10".into(),
        "api_domain: null".into(),
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in\n{out}");
    }

    // The agent's unit, and its ExecStart run as systemd would run it.
    let up = HttpUpstream::start("svc").await;
    let agent_yml = write(
        &dir.path().join("agent.yml"),
        &format!(
            "version: \"2\"\nauthtoken: {}\nserver_addr: {}\nroot_cas: {}\nweb_addr: false\n\
             tunnels:\n  svc:\n    proto: http\n    addr: {}\n    domain: svc.from-file.test\n",
            edge.token,
            edge.agent_addr(),
            edge.ca.display(),
            up.port()
        ),
    );
    let units = dir.path().join("units");
    let units_arg = units.display().to_string();
    let (code, out, err) = ferry(&[
        "service",
        "install",
        "--config",
        &agent_yml,
        "--unit-dir",
        &units_arg,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let unit_path = PathBuf::from(out.trim());
    assert_eq!(
        unit_path,
        units.canonicalize().unwrap().join("ferry-agent.service")
    );
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let argv: Vec<String> = exec.split(' ').map(str::to_string).collect();
    assert_eq!(
        argv[1..4],
        ["start".to_string(), "--all".into(), "--config".into()]
    );
    assert!(Path::new(&argv[0]).is_absolute() && Path::new(&argv[4]).is_absolute());
    let _agent = Proc::spawn_program(&argv[0], "unit-agent", &argv[1..], dir.path(), &[]);
    let args = edge.curl_https("svc.from-file.test", "/");
    eventually("the unit's agent serves", Duration::from_secs(15), || {
        let args = args.clone();
        async move { curl(&args).await.1 == "hello from svc" }
    })
    .await;
}

#[tokio::test]
async fn config_file_mistakes_exit_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(
        &dir.path().join("unknown.yml"),
        "dev: true\n  # a comment\napi_adr: 127.0.0.1:0\n",
    );
    let wrong = write(
        &dir.path().join("wrong.yml"),
        "dev: true\ndrain_timeout: soon\n",
    );
    let not_a_list = write(&dir.path().join("list.yml"), "api_addr: [a, b]\n");
    for (file, at, what) in [
        (&unknown, "unknown.yml:3:1:", "api_adr"),
        (&wrong, "wrong.yml:2:16:", "drain_timeout"),
        (&not_a_list, "list.yml:1:11:", "api_addr"),
    ] {
        for args in [
            vec!["edge", "--config", file],
            vec!["edge", "config", "check", "--config", file],
        ] {
            let (code, _, err) = ferry(&args).await;
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains(at) && err.contains(what), "{args:?}: {err}");
        }
    }
}

/// `systemd-analyze verify` accepts both units, without a warning (an unknown key is only
/// a warning to it).
#[tokio::test]
async fn systemd_accepts_both_units() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("skipped: /usr/bin/systemd-analyze is absent (Debian's systemd package)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units").display().to_string();
    let agent_yml = write(
        &dir.path().join("agent.yml"),
        "version: \"2\"\nauthtoken: x\ntunnels: {}\n",
    );
    let data = dir.path().join("edge data");
    let edge_yml = write(
        &dir.path().join("edge.yml"),
        &format!("drain_timeout: 30\ndata_dir: {}\n", data.display()),
    );
    let (code, agent_unit, err) = ferry(&[
        "service",
        "install",
        "--config",
        &agent_yml,
        "--unit-dir",
        &units,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, edge_unit, err) = ferry(&[
        "edge",
        "service",
        "install",
        "--config",
        &edge_yml,
        "--unit-dir",
        &units,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let edge_text = std::fs::read_to_string(edge_unit.trim()).unwrap();
    let writable = format!("ReadWritePaths=\"-{}\"", data.display());
    for line in [
        "Type=notify",
        "NotifyAccess=all",
        "TimeoutStopSec=48s",
        &writable,
    ] {
        assert!(edge_text.lines().any(|l| l == line), "{line}:\n{edge_text}");
    }
    let out = std::process::Command::new(analyze)
        .args(["verify", agent_unit.trim(), edge_unit.trim()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");

    let (code, _, err) = ferry(&["service", "uninstall", "--unit-dir", &units]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!Path::new(agent_unit.trim()).exists());
}

/// Lists every API key's ID through the REST API, page by page.
async fn api_key_ids(
    edge_api: impl Fn(String) -> tokio::task::JoinHandle<(u16, Value)>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some("/api_keys?limit=100".to_string());
    while let Some(path) = next.take() {
        let (status, page) = edge_api(path).await.unwrap();
        assert_eq!(status, 200, "{page}");
        for key in page["keys"].as_array().unwrap() {
            ids.push(key["id"].as_str().unwrap().to_string());
        }
        next = page["next_page_uri"].as_str().map(str::to_string);
    }
    ids
}

/// A backup taken while API keys are being created holds every key acknowledged before it
/// began; restored into a copy of the data dir, an edge starts on it and serves them. Then
/// the same store, marked as migrated by a newer Ferry, is refused and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_acknowledged_write_and_a_newer_store_is_refused() {
    let edge = Arc::new(Edge::start().await);
    let data = edge.dir.path().join("data");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (edge, acked, stop) = (edge.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = format!("{{\"description\":\"w{i}\"}}");
                let key = edge.created("/api_keys", &body).await;
                acked
                    .lock()
                    .unwrap()
                    .push(key["id"].as_str().unwrap().to_string());
                i += 1;
            }
        })
    };
    eventually("writes under way", Duration::from_secs(10), || {
        let n = acked.lock().unwrap().len();
        async move { n >= 10 }
    })
    .await;
    let before: Vec<String> = acked.lock().unwrap().clone();
    let out = edge.dir.path().join("backup.db");
    let out_arg = out.display().to_string();
    let data_arg = data.display().to_string();
    let (code, stdout, err) =
        ferry(&["edge", "backup", "--data-dir", &data_arg, "--out", &out_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("backed up"), "{stdout}");
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        during > before.len(),
        "the writes went on during the backup"
    );

    let (code, _, err) =
        ferry(&["edge", "backup", "--data-dir", &data_arg, "--out", &out_arg]).await;
    assert_eq!(code, 2, "an existing file is refused");
    assert!(err.contains("already exists"), "{err}");
    let url_file = write(
        &edge.dir.path().join("db-url"),
        "postgres://u:p@127.0.0.1/ferry\n",
    );
    let (code, _, err) = ferry(&[
        "edge",
        "backup",
        "--data-dir",
        &data_arg,
        "--out",
        "/nonexistent/x.db",
        "--database-url-file",
        &url_file,
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pg_dump"), "{err}");

    // Restore as README.md says: the data dir's other files, the backup as ferry.db, no
    // -wal or -shm.
    let restored = tempfile::tempdir().unwrap();
    let rdata = restored.path().join("data");
    std::fs::create_dir(&rdata).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("ferry.db") {
            std::fs::copy(entry.path(), rdata.join(&name)).unwrap();
        }
    }
    std::fs::copy(&out, rdata.join("ferry.db")).unwrap();
    let ready = restored.path().join("ready.json");
    let rdata_arg = rdata.display().to_string();
    let args: Vec<String> = ["edge", "--dev", "--data-dir", &rdata_arg, "--ready-file"]
        .iter()
        .map(|s| s.to_string())
        .chain([ready.display().to_string()])
        .collect();
    let mut proc = Proc::spawn("restored", &args, restored.path(), &[]);
    let rready = wait_ready(&mut proc, &ready).await;
    let api = rready["api_url"].as_str().unwrap().to_string();
    let key = edge.api_key.clone();
    let ids = api_key_ids(move |path| {
        let (api, key) = (api.clone(), key.clone());
        tokio::spawn(async move {
            let url = if path.starts_with("http") {
                path
            } else {
                format!("{api}{path}")
            };
            crate::harness::raw_api(
                vec![
                    "-H".into(),
                    format!("Authorization: Bearer {key}"),
                    "-H".into(),
                    "Ngrok-Version: 2".into(),
                ],
                &url,
            )
            .await
        })
    })
    .await;
    for id in &before {
        assert!(
            ids.contains(id),
            "{id} was acknowledged before the backup began"
        );
    }
    proc.signal("TERM");
    proc.wait_exit(Duration::from_secs(10)).await;

    // A newer Ferry's migration in the restored store: refused, the file untouched.
    let db = rdata.join("ferry.db");
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', 1, x'00', 0);",
        )
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&db).unwrap();
    let (code, _, err) = ferry(&["edge", "--dev", "--data-dir", &rdata_arg]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("version 9999") && err.contains("upgrade Ferry"),
        "{err}"
    );
    assert!(
        std::fs::read(&db).unwrap() == bytes,
        "the refused store was changed"
    );
}

/// Opens a connection to the TLS port and closes it before any ClientHello: the edge logs
/// that at debug level only.
async fn poke(addr: &str) {
    drop(tokio::net::TcpStream::connect(addr).await.unwrap());
}

/// SIGHUP reads the file's `log_level` again; a file that no longer reads keeps the level
/// and the edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_the_log_level_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir.path().join("edge.yml"), "log_level: info\n");
    let ready = dir.path().join("ready.json");
    let data = dir.path().join("data").display().to_string();
    let args: Vec<String> = [
        "edge",
        "--dev",
        "--config",
        &config,
        "--data-dir",
        &data,
        "--ready-file",
        &ready.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut proc = Proc::spawn("hup", &args, dir.path(), &[("FERRY_LOG", "")]);
    let https = wait_ready(&mut proc, &ready).await["https"]
        .as_str()
        .unwrap()
        .to_string();
    const DEBUG_LINE: &str = "dropping TLS connection";

    poke(&https).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!proc.output().contains(DEBUG_LINE), "{}", proc.output());

    write(Path::new(&config), "log_level: debug\n");
    proc.signal("HUP");
    eventually("the reload is logged", Duration::from_secs(5), || async {
        proc.output().contains("log level set from")
    })
    .await;
    poke(&https).await;
    eventually("a debug line", Duration::from_secs(5), || async {
        proc.output().contains(DEBUG_LINE)
    })
    .await;

    write(Path::new(&config), "log_level: [debug]\n");
    proc.signal("HUP");
    eventually("the bad file is named", Duration::from_secs(5), || async {
        proc.output().contains("edge.yml:1:12: log_level")
    })
    .await;
    assert!(
        proc.child.try_wait().unwrap().is_none(),
        "{}",
        proc.output()
    );
}
