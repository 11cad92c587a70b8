//! The store's failures reach people with their cause: a read-only data directory stops the
//! edge with one line naming the file and the cause, a full disk answers REST writes with 507
//! and ERR_FERRY_290. Both need a real read-only or full file system, made here with a tmpfs
//! mount; where mounting is not allowed (not root, no CAP_SYS_ADMIN) the tests say so and
//! pass, since a faked failure would prove nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{raw_api, wait_ready, Proc};

/// A tmpfs mounted for one test, unmounted when dropped (after the processes using it, which
/// must therefore be declared after it).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "note: skipped, cannot mount a tmpfs here ({}); run as root to test a real read-only or full disk",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy because a child is still closing its files: detach it now, freed when done.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_dir_stops_the_edge_with_one_line_naming_the_file_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(_ro) = Tmpfs::mount(&data, "ro,size=1m") else {
        return;
    };
    let mut edge = Proc::spawn(
        "edge",
        &[
            "edge".into(),
            "--dev".into(),
            "--data-dir".into(),
            data.display().to_string(),
        ],
        dir.path(),
        &[],
    );
    let status = edge.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", edge.output());
    let stderr = std::fs::read_to_string(&edge.stderr).unwrap_or_default();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", edge.output());
    let line = errors[0];
    let db = data.join("ferry.db");
    assert_eq!(
        line,
        format!(
            "error: cannot open the store at {}: the store is read-only: Read-only file system (os error 30) [ERR_FERRY_291]",
            db.display()
        ),
        "{}",
        edge.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_rest_writes_with_507_until_there_is_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(_disk) = Tmpfs::mount(&data, "size=1m") else {
        return;
    };
    let ready = dir.path().join("edge-ready.json");
    let mut edge = Proc::spawn(
        "edge",
        &[
            "edge".into(),
            "--dev".into(),
            "--data-dir".into(),
            data.display().to_string(),
            "--ready-file".into(),
            ready.display().to_string(),
        ],
        dir.path(),
        &[],
    );
    let ready = wait_ready(&mut edge, &ready).await;
    let api_url = ready["api_url"].as_str().expect("api_url").to_string();
    let dev: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("dev.json")).expect("dev.json"))
            .expect("dev.json is JSON");
    let api_key = dev["api_key"].as_str().expect("api_key").to_string();

    let filler = data.join("filler");
    fill(&filler);
    let (status, body) = create_key(&api_url, &api_key, "no room").await;
    assert_eq!(status, 507, "{body}\n{}", edge.output());
    assert_eq!(body["error_code"], "ERR_FERRY_290", "{body}");
    assert_eq!(body["status_code"], 507, "{body}");
    let msg = body["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("the store's disk is full (database or disk is full); free space"),
        "{msg}"
    );
    assert!(msg.ends_with("[ERR_FERRY_290]"), "{msg}");

    std::fs::remove_file(&filler).expect("remove filler");
    let (status, body) = create_key(&api_url, &api_key, "room again").await;
    assert_eq!(status, 201, "{body}\n{}", edge.output());
    let log = std::fs::read_to_string(&edge.stderr).unwrap_or_default();
    assert!(log.contains("database or disk is full"), "{log}");
}

async fn create_key(api_url: &str, api_key: &str, description: &str) -> (u16, Value) {
    let args = vec![
        "-X".to_string(),
        "POST".into(),
        "-H".into(),
        format!("Authorization: Bearer {api_key}"),
        "-H".into(),
        "Ngrok-Version: 2".into(),
        "-H".into(),
        "Content-Type: application/json".into(),
        "-d".into(),
        serde_json::json!({ "description": description }).to_string(),
    ];
    raw_api(args, &format!("{api_url}/api_keys")).await
}

/// Writes `path` until the file system has no room left.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}
