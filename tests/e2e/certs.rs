//! `ferry certs` against the guides' own openssl script, run as written, and against the sets
//! Ferry makes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Edge, BIN};

/// The guides' script, verbatim but for the names.
const GUIDE_SCRIPT: &str = r#"
CA_COMMON_NAME="*.customer1.example.test"
SERVER_COMMON_NAME="*.customer1.example.test"
CLIENT_COMMON_NAME="*.customer1.example.test"
echo "Generating keys for Certificate Authority (CA)..."
openssl req -new -x509 -days 9999 -keyout ca-key.pem -out ca-crt.pem -subj "/CN=$CA_COMMON_NAME"
echo "Generating a key for the server..."
openssl genrsa -out server-key.pem 4096
echo "Generating a Server Certificate Signing Request..."
openssl req -new -key server-key.pem -out server-csr.pem -subj "/CN=$SERVER_COMMON_NAME"
echo "Signing the server certificate with the CA..."
openssl x509 -req -days 9999 -in server-csr.pem -CA ca-crt.pem -CAkey ca-key.pem -CAcreateserial -out server-crt.pem
echo "Verifying the server certificate..."
openssl verify -CAfile ca-crt.pem server-crt.pem
echo "Generating a key for the client..."
openssl genrsa -out client-key.pem 4096
echo "Generating a Client Certificate Signing Request..."
openssl req -new -key client-key.pem -out client-csr.pem -subj "/CN=$CLIENT_COMMON_NAME"
echo "Signing the client certificate with the CA..."
openssl x509 -req -days 9999 -in client-csr.pem -CA ca-crt.pem -CAkey ca-key.pem -CAcreateserial -out client-crt.pem
echo "Verifying the client certificate..."
openssl verify -CAfile ca-crt.pem client-crt.pem
echo "mTLS certificate generation complete."
"#;

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the script without a terminal, so openssl reads each pass phrase from stdin; each one
/// is written only when the step that asks for it has started.
fn run_guide_script(dir: &Path) {
    std::fs::write(dir.join("gen.sh"), GUIDE_SCRIPT).unwrap();
    let mut child = Command::new("setsid")
        .args(["bash", "gen.sh"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"guidepass\nguidepass\n").unwrap();
    stdin.flush().unwrap();
    wait_for(&dir.join("server-csr.pem"));
    stdin.write_all(b"guidepass\n").unwrap();
    stdin.flush().unwrap();
    wait_for(&dir.join("client-csr.pem"));
    stdin.write_all(b"guidepass\n").unwrap();
    stdin.flush().unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    wait_for(&dir.join("client-crt.pem"));
}

fn certs_check(files: &[&Path]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["certs", "check"])
        .args(files)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certs_check_names_each_defect_of_the_guides_script() {
    let dir = tempfile::tempdir().unwrap();
    run_guide_script(dir.path());
    let f = |n: &str| dir.path().join(n);
    let (code, out) = certs_check(&[&f("server-crt.pem")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("X.509 v1"), "{out}");
    assert!(out.contains("no subjectAltName"), "{out}");
    assert!(out.contains("same as its issuer"), "{out}");
    assert!(out.contains("ferry certs generate"), "{out}");
    let (code, out) = certs_check(&[&f("ca-key.pem")]);
    assert_eq!(code, 1);
    assert!(out.contains("encrypted"), "{out}");
    let (code, out) = certs_check(&[&f("server-key.pem")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a private key: OK"), "{out}");

    let good = dir.path().join("good");
    let st = Command::new(BIN)
        .args([
            "certs",
            "generate",
            "--domain",
            "*.customer1.example.test",
            "--out",
        ])
        .arg(&good)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let names = [
        "ca-crt.pem",
        "ca-key.pem",
        "server-crt.pem",
        "server-key.pem",
        "client-crt.pem",
        "client-key.pem",
    ];
    let paths: Vec<_> = names.iter().map(|n| good.join(n)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let (code, out) = certs_check(&refs);
    assert_eq!(code, 0, "{out}");
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(good.join("ca-crt.pem"))
        .arg(good.join("server-crt.pem"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let usage = Command::new(BIN)
        .args(["certs", "generate", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_refuses_the_guides_certificates_with_the_fix() {
    let edge = Edge::start().await;
    let dir = edge.dir.path().join("guide-certs");
    std::fs::create_dir_all(&dir).unwrap();
    run_guide_script(&dir);
    let p = |n: &str| dir.join(n).display().to_string();
    let mut agent = edge.spawn_agent(
        "tls",
        &[
            "3000",
            "--domain",
            "api.customer1.example.test",
            "--terminate-at",
            "agent",
            "--crt",
            &p("server-crt.pem"),
            "--key",
            &p("server-key.pem"),
            "--mutual-tls-cas",
            &p("ca-crt.pem"),
        ],
    );
    assert_eq!(
        agent.wait_exit(Duration::from_secs(20)).await.code(),
        Some(2)
    );
    let out = agent.output();
    assert!(
        out.contains("server-crt.pem")
            && out.contains("X.509 v1")
            && out.contains("ferry certs generate"),
        "{out}"
    );
}
