use std::path::PathBuf;

use super::*;
use crate::tunnel::TerminateAt;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GUIDE: &str = r#"version: "2"
authtoken: tok_from_file
server_addr: tunnel.us.connect.example.test:443
tunnels:
  agent-api:
    proto: http
    domain: agent.customer1.example.test
    addr: 4040
    inspect: false
"#;

#[test]
fn the_guides_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "ngrok.yml", GUIDE);
    let c = load(&[p]).unwrap();
    assert_eq!(c.agent.authtoken.as_deref(), Some("tok_from_file"));
    let defs = c.select(&["agent-api".into()]).unwrap();
    let (spec, warnings) = tunnel_spec("agent-api", &defs[0].1.raw).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(spec.domain.as_deref(), Some("agent.customer1.example.test"));
    assert_eq!(spec.addr.port, 4040);
    assert!(!spec.inspect);
}

#[test]
fn later_files_win_key_by_key_and_tunnels_merge_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(&dir, "a.yml", GUIDE);
    let b = write(
        &dir,
        "b.yml",
        "authtoken: tok_b\ntunnels:\n  extra:\n    proto: tcp\n    addr: 22\n  agent-api:\n    proto: http\n    addr: 4041\n",
    );
    let c = load(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(c.agent.authtoken.as_deref(), Some("tok_b"));
    assert_eq!(
        c.agent.server_addr.as_deref(),
        Some("tunnel.us.connect.example.test:443")
    );
    assert_eq!(c.tunnels.len(), 2);
    assert_eq!(
        c.tunnels["agent-api"].raw.addr.as_ref().unwrap().text(),
        "4041"
    );
    assert_eq!(c.tunnels["agent-api"].origin.file, b);
    let reversed = load(&[b, a]).unwrap();
    assert_eq!(reversed.agent.authtoken.as_deref(), Some("tok_from_file"));
    assert_eq!(
        reversed.tunnels["agent-api"]
            .raw
            .addr
            .as_ref()
            .unwrap()
            .text(),
        "4040"
    );
}

#[test]
fn an_unknown_key_names_file_line_column_and_the_nearest_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "bad.yml",
        "version: \"2\"\ntunnels:\n  web:\n    proto: http\n    adr: 80\n",
    );
    let e = load(std::slice::from_ref(&p)).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:5:5:", p.display())), "{e}");
    assert!(
        e.contains("unknown key \"adr\" (did you mean \"addr\"?)"),
        "{e}"
    );
    let p = write(&dir, "bad2.yml", "authtokn: x\n");
    let e = load(&[p]).unwrap_err().to_string();
    assert!(
        e.contains(":1:1:") && e.contains("did you mean \"authtoken\""),
        "{e}"
    );
}

#[test]
fn wrong_types_and_syntax_errors_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "t.yml",
        "tunnels:\n  web:\n    proto: http\n    addr: 80\n    inspect: maybe\n",
    );
    let e = load(&[p]).unwrap_err().to_string();
    assert!(e.contains(":5:14:"), "{e}");
    let p = write(&dir, "s.yml", "tunnels: [\n");
    let e = load(&[p]).unwrap_err().to_string();
    assert!(e.contains("s.yml:1:"), "{e}");
}

#[test]
fn semantic_errors_name_the_key() {
    let raw = |yaml: &str| -> RawTunnel { serde_saphyr::from_str(yaml).unwrap() };
    let err = |yaml: &str| tunnel_spec("t", &raw(yaml)).unwrap_err();
    assert!(err("proto: http\n").contains("addr is required"));
    assert!(err("proto: udp\naddr: 1\n").contains("\"udp\" is not one of http, tcp or tls"));
    assert!(err("addr: 1\n").contains("proto is required"));
    assert!(
        err("proto: http\naddr: 1\nip_restriction:\n  allow_cidrs: [10.0.0.0/8]\n")
            .contains("ip_restriction")
    );
    assert!(err("proto: http\naddr: 1\nbasic_auth: [\"u:short\"]\n").contains("at least 8"));
    assert!(err("proto: tcp\naddr: 1\ndomain: a.b\n").contains("domain does not apply"));
    // Client certificates nothing would check.
    assert!(
        err("proto: tls\naddr: 1\nterminate_at: upstream\nmutual_tls_cas: ca.pem\n")
            .contains("nothing could check its certificate")
    );
    assert!(err("proto: tcp\naddr: 1\nmutual_tls_cas: ca.pem\n").contains("does not apply"));
    let (_, warnings) =
        tunnel_spec("t", &raw("proto: http\naddr: 1\ncompression: true\n")).unwrap();
    assert!(warnings[0].contains("compression"));
}

#[test]
fn undefined_tunnel_lists_the_defined_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "ngrok.yml", GUIDE);
    let e = load(&[p])
        .unwrap()
        .select(&["nope".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"nope\"") && e.contains("agent-api"), "{e}");
}

#[test]
fn versions_and_unsupported_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(&dir, "v2.yml", "version: 2\nregion: us\n");
    let c = load(&[ok]).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.starts_with("region:")),
        "{:?}",
        c.warnings
    );
    let v3 = write(&dir, "v3.yml", "version: \"3\"\n");
    assert!(load(&[v3])
        .unwrap_err()
        .to_string()
        .contains("version \"3\""));
}

#[test]
fn terminate_at_follows_ngroks_default() {
    let raw = |yaml: &str| -> RawTunnel { serde_saphyr::from_str(yaml).unwrap() };
    let at = |yaml: &str| tunnel_spec("t", &raw(yaml)).unwrap().0.terminate_at;
    assert_eq!(at("proto: tls\naddr: 1\n"), TerminateAt::Upstream);
    // A certificate, a key or client CAs only mean something where TLS ends: the edge, unless
    // the tunnel says otherwise.
    assert_eq!(
        at("proto: tls\naddr: 1\ncrt: c.pem\nkey: k.pem\n"),
        TerminateAt::Edge
    );
    assert_eq!(
        at("proto: tls\naddr: 1\nmutual_tls_cas: ca.pem\n"),
        TerminateAt::Edge
    );
    assert_eq!(
        at("proto: tls\naddr: 1\nterminate_at: edge\n"),
        TerminateAt::Edge
    );
    assert_eq!(
        at("proto: tls\naddr: 1\nterminate_at: agent\ncrt: c.pem\nkey: k.pem\n"),
        TerminateAt::Agent
    );
    let err = tunnel_spec("t", &raw("proto: tls\naddr: 1\nterminate_at: cloud\n")).unwrap_err();
    assert!(err.contains("not one of agent, upstream or edge"), "{err}");
}

#[test]
fn tunnel_keys_at_the_top_level_are_all_named_with_where_they_belong() {
    let dir = tempfile::tempdir().unwrap();
    // The site-to-site guide's fragment as printed: its tunnels: and agent-api: lines lost.
    let p = write(
        &dir,
        "ngrok.yml",
        "version: \"2\"\nauthtoken: x\nproto: http\ndomain: agent.customer1.example.com\naddr: 4040\ninspect: false\n",
    );
    let e = load(std::slice::from_ref(&p)).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3:1:", p.display())), "{e}");
    for key in [
        "\"proto\" (line 3)",
        "\"domain\" (line 4)",
        "\"addr\" (line 5)",
        "\"inspect\" (line 6)",
    ] {
        assert!(e.contains(key), "{key} in {e}");
    }
    assert!(e.contains("tunnels.<name>:"), "{e}");
    assert!(!e.contains("did you mean"), "{e}");
}
