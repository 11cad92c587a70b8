use super::*;

fn snapshot() -> edge::Snapshot {
    edge::Snapshot {
        region: "eu".into(),
        sessions: vec![("ferry".into(), 2)],
        tunnels: vec![("https".into(), 3)],
        certificates: vec![("issued".into(), 1)],
        expiry: vec![edge::CertificateExpiry {
            id: "cert_1".into(),
            name: "a.example.test".into(),
            seconds: 86_400.0,
        }],
        lease_age_seconds: 0.5,
        live_nodes: 1,
    }
}

#[test]
fn every_family_registers_and_is_named_ferry() {
    for text in [edge_text(&snapshot()), agent_text()] {
        assert!(!text.contains("# ferry:"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("ferry_"), "{line}");
        }
    }
}

#[test]
fn the_edge_writes_what_it_was_given_and_what_was_counted() {
    edge::edge()
        .bind_refusals
        .with_label_values(&["ERR_FERRY_301"])
        .inc();
    dns::query_answered("REFUSED");
    store::query_done("SELECT 1", std::time::Duration::from_millis(2));
    let text = edge_text(&snapshot());
    for want in [
        "ferry_edge_sessions{client=\"ferry\",region=\"eu\"} 2",
        "ferry_edge_tunnels{proto=\"https\",region=\"eu\"} 3",
        "ferry_edge_certificate_expiry_seconds{id=\"cert_1\",name=\"a.example.test\"} 86400",
        "ferry_edge_http_requests_total{class=\"2xx\"} 0",
        "# TYPE ferry_edge_bind_refusals_total counter",
        "ferry_store_query_duration_seconds_bucket{op=\"select\",le=\"0.0025\"}",
        "ferry_build_info{role=\"edge\",version=",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    assert!(text.contains("ferry_edge_bind_refusals_total{code=\"ERR_FERRY_301\"}"));
    assert!(
        !text.contains("ferry_agent_"),
        "an agent family in the edge's scrape"
    );
}

#[test]
fn status_classes() {
    assert_eq!(status_class(204), "2xx");
    assert_eq!(status_class(502), "5xx");
    assert_eq!(status_class(99), "other");
}

#[test]
fn store_queries_are_counted_by_their_first_word() {
    store::query_done("  insert INTO x VALUES (1)", std::time::Duration::ZERO);
    store::query_done("PRAGMA x", std::time::Duration::ZERO);
    let text = edge_text(&edge::Snapshot::default());
    assert!(text.contains("ferry_store_query_duration_seconds_count{op=\"insert\"}"));
    assert!(text.contains("ferry_store_query_duration_seconds_count{op=\"other\"}"));
}
