use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ferry_proto::msg::{Bind, BindExtra};
use ferry_proto::{BindProto, ClientKind};
use ferry_types::{ErrorCode, HostPattern, Hostname, TunnelId};
use serde_json::{json, Value};

use super::decide::{decide, Decision, Endpoint, IdCheck, Policy, RegistryView, Reservation};
use super::refusal::BindRefusal;
use super::request::{BindRequest, Site, Wanted};

/// The registry as a test sets it up.
#[derive(Default)]
struct Held {
    session_tunnels: usize,
    live: HashSet<TunnelId>,
    hosts: HashMap<HostPattern, TunnelId>,
}

impl RegistryView for Held {
    fn session_tunnels(&self) -> usize {
        self.session_tunnels
    }

    fn is_live(&self, id: &TunnelId) -> bool {
        self.live.contains(id)
    }

    fn host_holder(&self, host: &HostPattern) -> Option<TunnelId> {
        self.hosts.get(host).cloned()
    }
}

const BASE: &str = "a";
const TCP_HOST: &str = "edge.test";
const MAX_TUNNELS: usize = 3;
const SETTLE: Duration = Duration::from_millis(250);

fn tid(id: &str) -> TunnelId {
    TunnelId::parse(id).unwrap()
}

/// A first bind of `proto` with `opts`, as an agent sends it.
fn bind(proto: &str, opts: Value) -> Bind {
    Bind {
        id: String::new(),
        proto: proto.into(),
        forwards_to: "localhost:3000".into(),
        forwards_proto: String::new(),
        opts,
        extra: BindExtra::default(),
    }
}

fn parse(bind: Bind) -> Result<BindRequest, BindRefusal> {
    let base = Hostname::parse(BASE).unwrap();
    let site = Site {
        base_domain: &base,
        tcp_ports: (20000, 20099),
        tcp_public_host: TCP_HOST,
    };
    BindRequest::parse(bind, &site, "0a1b2c3d")
}

fn request(proto: &str, opts: Value) -> Result<BindRequest, BindRefusal> {
    parse(bind(proto, opts))
}

/// One bind's circumstances; the defaults are a new tunnel of Ferry's agent in dev mode with
/// no ACL and an empty registry.
struct Case {
    dev: bool,
    acl: Vec<String>,
    reservation: Reservation,
    id: IdCheck,
    client: ClientKind,
    registry: Held,
}

impl Default for Case {
    fn default() -> Self {
        Self {
            dev: true,
            acl: Vec::new(),
            reservation: Reservation::Unchecked,
            id: IdCheck::Fresh(tid("tn_new")),
            client: ClientKind::Ferry,
            registry: Held::default(),
        }
    }
}

impl Case {
    fn decide(self, req: BindRequest) -> Result<Decision, BindRefusal> {
        let policy = Policy {
            dev: self.dev,
            acl: &self.acl,
            reservation: self.reservation,
            id: self.id,
            client: &self.client,
            max_tunnels: MAX_TUNNELS,
            sdk_bind_settle: SETTLE,
        };
        decide(req, policy, &self.registry)
    }
}

fn http(domain: &str) -> BindRequest {
    request("https", json!({ "Domain": domain })).unwrap()
}

fn code(result: Result<impl std::fmt::Debug, BindRefusal>) -> ErrorCode {
    result.unwrap_err().code()
}

fn rules(rules: &[&str]) -> Vec<String> {
    rules.iter().map(|r| r.to_string()).collect()
}

#[test]
fn malformed_requests_are_refused_before_anything_is_looked_up() {
    assert_eq!(code(request("udp", json!({}))), ErrorCode::ProtoUnknown);
    assert_eq!(
        code(request("http", json!("not an object"))),
        ErrorCode::BindPayloadInvalid
    );
    let oauth = request("https", json!({ "OAuth": { "Provider": "google" } })).unwrap_err();
    assert_eq!(oauth.code(), ErrorCode::BindPayloadInvalid);
    assert!(
        oauth.to_string().contains("does not enforce oauth"),
        "{oauth}"
    );
    // PROXY protocol headers go to TCP and TLS upstreams; an HTTP one has X-Forwarded-For.
    assert_eq!(
        code(request("https", json!({ "ProxyProto": 2 }))),
        ErrorCode::BindPayloadInvalid
    );
    let tcp = request("tcp", json!({ "ProxyProto": "1" })).unwrap();
    assert_eq!(tcp.proxy_proto, Some(ferry_proto::ProxyVersion::V1));
    let tls = request("tls", json!({ "ProxyProto": 2 })).unwrap();
    assert_eq!(tls.proxy_proto, Some(ferry_proto::ProxyVersion::V2));
    assert_eq!(
        code(request("https", json!({ "Domain": "bad..name" }))),
        ErrorCode::DomainMalformed
    );
    assert_eq!(
        code(request("tcp", json!({ "Addr": "edge.test:x" }))),
        ErrorCode::TcpAddrUnavailable
    );
    let range = request("tcp", json!({ "Addr": "edge.test:80" })).unwrap_err();
    assert!(range
        .to_string()
        .contains("outside this edge's TCP range 20000-20099"));
    let ca = json!({ "MutualTLSCA": { "MutualTLSCA": "AAAA" } });
    assert_eq!(code(request("http", ca)), ErrorCode::MutualTlsCaInvalid);
    let hashed = json!({ "BasicAuth": { "Credentials": [{ "Username": "ops" }] } });
    assert_eq!(
        code(request("https", hashed)),
        ErrorCode::BindPayloadInvalid
    );
}

#[test]
fn the_protocol_is_read_as_ngrok_spells_it() {
    let unknown = request("HTTPS", json!({})).unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::ProtoUnknown);
    assert_eq!(
        unknown.to_string(),
        "unknown protocol \"HTTPS\"; expected http, https, tls or tcp"
    );
    for proto in [BindProto::Http, BindProto::Https, BindProto::Tls] {
        let d = Case::default()
            .decide(request(proto.as_str(), json!({})).unwrap())
            .unwrap();
        assert_eq!(d.proto, proto);
    }
}

#[test]
fn a_rebind_id_no_tunnel_can_have_is_refused_like_one_without_its_token() {
    let rebind = |id: &str, proto: &str| {
        let mut b = bind(proto, json!({}));
        b.id = id.into();
        parse(b)
    };
    assert_eq!(rebind("tn_mine", "https").unwrap().id, Some(tid("tn_mine")));
    assert_eq!(rebind("", "https").unwrap().id, None);
    let forged = rebind("tn_a\nforged log line", "https").unwrap_err();
    assert_eq!(forged.code(), ErrorCode::BindTokenInvalid);
    assert!(
        forged.to_string().contains(r#""tn_a\nforged log line""#),
        "{forged}"
    );
    assert_eq!(
        code(rebind(&"x".repeat(257), "https")),
        ErrorCode::BindTokenInvalid
    );
    // The rest of the request is read first, as `decide` checks the ID after it.
    assert_eq!(code(rebind("tn_a\n", "udp")), ErrorCode::ProtoUnknown);
}

#[test]
fn an_ip_policy_the_edge_does_not_enforce_is_refused() {
    let mut bind = bind("http", json!({"Hostname": "app.example.test"}));
    bind.extra.ip_policy_ref = "ipp_1".into();
    let refusal = parse(bind).unwrap_err();
    assert_eq!(refusal.code(), ErrorCode::BindPayloadInvalid, "{refusal}");
    assert!(refusal.to_string().contains("IPPolicyRef"), "{refusal}");
}

#[test]
fn the_name_comes_from_domain_then_subdomain_else_at_random() {
    let wanted = |proto, opts| request(proto, opts).unwrap().wanted;
    let host = |s| HostPattern::parse(s).unwrap();
    assert_eq!(
        wanted(
            "https",
            json!({ "Domain": "API.example.test", "Subdomain": "x" })
        ),
        Wanted::Host(host("api.example.test"))
    );
    assert_eq!(
        wanted("tls", json!({ "Hostname": "*.example.test" })),
        Wanted::Host(host("*.example.test"))
    );
    assert_eq!(
        wanted("http", json!({ "Subdomain": " app " })),
        Wanted::Host(host("app.a"))
    );
    assert_eq!(
        wanted("http", Value::Null),
        Wanted::RandomHost(host("0a1b2c3d.a"))
    );
    assert_eq!(wanted("tcp", json!({})), Wanted::AnyPort);
    assert_eq!(
        wanted("tcp", json!({ "Addr": "1.tcp.example.test:20005" })),
        Wanted::Port {
            port: 20005,
            addr: "edge.test:20005".into()
        }
    );
}

#[test]
fn a_name_is_reserved_by_itself_or_a_wildcard_above_it() {
    assert_eq!(
        http("api.c1.example.test").reservation_candidates(),
        [
            "api.c1.example.test",
            "*.c1.example.test",
            "*.example.test",
            "*.test"
        ]
    );
    assert_eq!(
        http("*.c1.example.test").reservation_candidates(),
        ["*.c1.example.test"]
    );
    let random = request("http", json!({})).unwrap();
    assert!(random.reservation_candidates().is_empty());
}

#[test]
fn outside_dev_mode_a_name_binds_only_when_reserved() {
    let outside = |reservation| Case {
        dev: false,
        reservation,
        ..Case::default()
    };
    assert!(outside(Reservation::Held)
        .decide(http("api.example.test"))
        .is_ok());
    let missing = outside(Reservation::Missing)
        .decide(http("api.example.test"))
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::DomainNotReserved);
    assert!(missing
        .to_string()
        .contains("(checked api.example.test, *.example.test, *.test)"));
    assert_eq!(
        code(outside(Reservation::Missing).decide(http("*.example.test"))),
        ErrorCode::WildcardNotReserved
    );
    // A name nobody looked up is not taken for reserved.
    assert_eq!(
        code(outside(Reservation::Unchecked).decide(http("api.example.test"))),
        ErrorCode::DomainNotReserved
    );
    let down = ferry_store::StoreError::Corrupt {
        id: "rd_1".into(),
        why: "test".into(),
    };
    assert_eq!(
        code(outside(Reservation::Unavailable(down)).decide(http("api.example.test"))),
        ErrorCode::ReservationCheckFailed
    );
    // Random names and ports need none.
    let random = request("http", json!({})).unwrap();
    assert!(outside(Reservation::Unchecked).decide(random).is_ok());
    let any_port = request("tcp", json!({})).unwrap();
    assert!(outside(Reservation::Unchecked).decide(any_port).is_ok());
    // Dev mode waives them.
    let dev = Case {
        reservation: Reservation::Missing,
        ..Case::default()
    };
    assert!(dev.decide(http("api.example.test")).is_ok());
}

#[test]
fn the_acl_applies_in_dev_mode_and_to_random_names() {
    let restricted = || Case {
        acl: rules(&["bind:*.c1.example.test"]),
        ..Case::default()
    };
    assert!(restricted().decide(http("api.c1.example.test")).is_ok());
    let denied = restricted()
        .decide(http("api.c2.example.test"))
        .unwrap_err();
    assert_eq!(denied.code(), ErrorCode::AclDenied);
    assert!(
        denied
            .to_string()
            .contains("its rules are: bind:*.c1.example.test"),
        "{denied}"
    );
    let random = request("http", json!({})).unwrap();
    assert_eq!(code(restricted().decide(random)), ErrorCode::AclDenied);
    let any_port = request("tcp", json!({})).unwrap();
    let denied = restricted().decide(any_port).unwrap_err();
    assert!(
        denied.to_string().contains("binding a random port"),
        "{denied}"
    );
}

#[test]
fn a_tcp_address_is_checked_against_the_acl_then_its_reservation() {
    let port = || request("tcp", json!({ "Addr": "edge.test:20001" })).unwrap();
    let case = |acl: &[&str], reservation| Case {
        dev: false,
        acl: rules(acl),
        reservation,
        ..Case::default()
    };
    assert_eq!(
        code(case(&["bind:edge.test:20002"], Reservation::Missing).decide(port())),
        ErrorCode::AclDenied
    );
    assert_eq!(
        code(case(&["bind:edge.test:20001"], Reservation::Missing).decide(port())),
        ErrorCode::AddrNotReserved
    );
    let d = case(&["bind:EDGE.test:20001"], Reservation::Held)
        .decide(port())
        .unwrap();
    assert_eq!(d.endpoint, Endpoint::Port(Some(20001)));
}

#[test]
fn a_name_held_by_another_tunnel_is_taken_but_a_rebind_takes_its_own_back() {
    let name = HostPattern::parse("api.example.test").unwrap();
    let held_by = |id: &str| Held {
        hosts: HashMap::from([(name.clone(), tid(id))]),
        live: HashSet::from([tid(id)]),
        ..Held::default()
    };
    let other = Case {
        registry: held_by("tn_other"),
        ..Case::default()
    };
    let taken = other.decide(http("api.example.test")).unwrap_err();
    assert_eq!(taken.code(), ErrorCode::EndpointTaken);
    assert!(taken
        .to_string()
        .contains("already served by another agent session"));
    let own = Case {
        id: IdCheck::Proven(tid("tn_mine")),
        registry: held_by("tn_mine"),
        ..Case::default()
    };
    assert_eq!(
        own.decide(http("api.example.test")).unwrap().id,
        tid("tn_mine")
    );
    let forged = Case {
        id: IdCheck::Unproven(tid("tn_mine")),
        registry: held_by("tn_mine"),
        ..Case::default()
    };
    assert_eq!(
        code(forged.decide(http("api.example.test"))),
        ErrorCode::BindTokenInvalid
    );
}

#[test]
fn the_tunnel_limit_counts_new_tunnels_only() {
    let full = |id: IdCheck| Case {
        id,
        registry: Held {
            session_tunnels: MAX_TUNNELS,
            live: HashSet::from([tid("tn_live")]),
            ..Held::default()
        },
        ..Case::default()
    };
    assert_eq!(
        code(full(IdCheck::Fresh(tid("tn_new"))).decide(http("a.example.test"))),
        ErrorCode::TunnelLimit
    );
    assert!(full(IdCheck::Proven(tid("tn_live")))
        .decide(http("a.example.test"))
        .is_ok());
}

#[test]
fn the_reply_echoes_the_chosen_name_and_the_keys_sdks_require() {
    let req = request("https", json!({ "hostname": "old.example.test", "Domain": "api.example.test", "host_header_rewrite": true })).unwrap();
    let d = Case::default().decide(req).unwrap();
    let opts = d.opts.as_object().unwrap();
    assert_eq!(opts["Hostname"], "api.example.test");
    assert!(!opts.contains_key("hostname"));
    assert_eq!(opts["host_header_rewrite"], true);
    assert!(!opts.contains_key("HostHeaderRewrite"));
    for key in ["Auth", "Subdomain", "ProxyProto"] {
        assert!(opts.contains_key(key), "{key} missing from {opts:?}");
    }
    let tls = request("tls", json!({ "Domain": "t.example.test" })).unwrap();
    let d = Case::default().decide(tls).unwrap();
    assert_eq!(d.opts["MutualTLSAtAgent"], false);
}

#[test]
fn a_tls_bind_is_terminated_at_the_edge_when_it_sends_a_certificate_or_client_cas() {
    let passthrough = request(
        "tls",
        json!({ "Domain": "t.example.test", "TLSTermination": null }),
    )
    .unwrap();
    assert!(passthrough.termination.is_none() && passthrough.client_ca.is_none());
    // An empty TLSTermination is the name's own certificate, as the SDK sends `termination`
    // with nothing set.
    let own = request(
        "tls",
        json!({ "Domain": "t.example.test", "TLSTermination": {} }),
    )
    .unwrap();
    assert_eq!(own.termination.unwrap().identity, None);
    let given = request(
        "tls",
        json!({ "Domain": "t.example.test", "TLSTermination": { "cert": "Yw==", "key": "aw==" } }),
    )
    .unwrap();
    let d = Case::default().decide(given).unwrap();
    let (cert, key) = d.termination.unwrap().identity.unwrap();
    assert_eq!((cert.as_str(), key.expose()), ("Yw==", "aw=="));
    // The agent keeps the reply's options for its re-binds, so they keep the certificate.
    assert_eq!(d.opts["TLSTermination"]["key"], "aw==");
    // Client CAs alone: only a terminating edge can check them.
    let mtls = request(
        "tls",
        json!({ "Domain": "t.example.test", "MutualTLSAtEdge": { "mutual_tls_ca": "Y2E=" } }),
    )
    .unwrap();
    assert_eq!(mtls.client_ca.as_deref(), Some("Y2E="));
    assert!(mtls.termination.is_some());
}

#[test]
fn edge_termination_that_cannot_be_served_is_refused_with_its_reason() {
    let half = request("tls", json!({ "TLSTermination": { "cert": "Yw==" } })).unwrap_err();
    assert_eq!(half.code(), ErrorCode::TerminationNeedsCertificate);
    assert!(half.to_string().contains("no key"), "{half}");
    let sealed = request("tls", json!({ "TLSTermination": { "sealed_key": "cw==" } })).unwrap_err();
    assert_eq!(sealed.code(), ErrorCode::EdgeTerminationInvalid);
    let both = request(
        "tls",
        json!({ "TLSTermination": {}, "MutualTLSAtAgent": true }),
    )
    .unwrap_err();
    assert!(
        both.to_string()
            .contains("both at the edge and at the agent"),
        "{both}"
    );
    // TLS options on another protocol would be ignored, so they are refused.
    let on_https = request("https", json!({ "TLSTermination": {} })).unwrap_err();
    assert_eq!(on_https.code(), ErrorCode::BindPayloadInvalid);
    assert!(
        on_https.to_string().contains("tls endpoints only"),
        "{on_https}"
    );
}

#[test]
fn only_ferry_agents_skip_the_sdk_settle_delay() {
    let settle = |client| {
        let case = Case {
            client,
            ..Case::default()
        };
        case.decide(http("a.example.test")).unwrap().settle
    };
    assert_eq!(settle(ClientKind::Ferry), Duration::ZERO);
    assert_eq!(settle(ClientKind::NgrokRust), SETTLE);
    assert_eq!(settle(ClientKind::NgrokGo), SETTLE);
    assert_eq!(settle(ClientKind::Unknown), SETTLE);
}

mod property {
    use super::*;
    use ferry_types::acl::strategies::{host_rule, label, name, oracle_allows};
    use proptest::prelude::*;

    /// The host rules ferry-types' own property test uses, and rules for this edge's TCP
    /// addresses.
    fn rule() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => host_rule(),
            1 => (20000u16..20003).prop_map(|p| format!("bind:{TCP_HOST}:{p}")),
        ]
    }

    /// A reserved domain or address, as the store would hold it.
    fn reserved() -> impl Strategy<Value = String> {
        prop_oneof![
            name(),
            name().prop_map(|n| format!("*.{n}")),
            (20000u16..20003).prop_map(|p| format!("{TCP_HOST}:{p}")),
        ]
    }

    #[derive(Clone, Debug)]
    enum Ask {
        Domain(String),
        Wildcard(String),
        Subdomain(String),
        RandomName,
        Port(u16),
        AnyPort,
    }

    fn ask() -> impl Strategy<Value = Ask> {
        prop_oneof![
            name().prop_map(Ask::Domain),
            name().prop_map(Ask::Wildcard),
            label().prop_map(Ask::Subdomain),
            Just(Ask::RandomName),
            (20000u16..20003).prop_map(Ask::Port),
            Just(Ask::AnyPort),
        ]
    }

    fn client() -> impl Strategy<Value = ClientKind> {
        prop_oneof![
            Just(ClientKind::Ferry),
            Just(ClientKind::NgrokGo),
            Just(ClientKind::NgrokRust),
            Just(ClientKind::Other("ngrok-python".into())),
            Just(ClientKind::Unknown),
        ]
    }

    /// What the bind targets, in plain text: a host name (`*.x` for a wildcard), a
    /// `host:port`, or `None` for a name or port the edge picks.
    fn target(ask: &Ask) -> Option<String> {
        match ask {
            Ask::Domain(n) => Some(n.clone()),
            Ask::Wildcard(n) => Some(format!("*.{n}")),
            Ask::Subdomain(l) => Some(format!("{l}.{BASE}")),
            Ask::Port(p) => Some(format!("{TCP_HOST}:{p}")),
            Ask::RandomName | Ask::AnyPort => None,
        }
    }

    /// The reservation rules, plainly: an address or a wildcard is reserved as itself; an
    /// exact name as itself or under a reserved wildcard.
    fn is_reserved(reserved: &HashSet<String>, target: &str) -> bool {
        reserved.contains(target)
            || (!target.starts_with("*.")
                && !target.contains(':')
                && reserved.iter().any(|r| {
                    r.strip_prefix("*.")
                        .is_some_and(|base| target.ends_with(&format!(".{base}")))
                }))
    }

    fn opts(ask: &Ask) -> (&'static str, Value) {
        match ask {
            Ask::Domain(n) => ("https", json!({ "Domain": n })),
            Ask::Wildcard(n) => ("tls", json!({ "Hostname": format!("*.{n}") })),
            Ask::Subdomain(l) => ("http", json!({ "Subdomain": l })),
            Ask::RandomName => ("https", json!({})),
            Ask::Port(p) => ("tcp", json!({ "Addr": format!("{TCP_HOST}:{p}") })),
            Ask::AnyPort => ("tcp", json!({})),
        }
    }

    proptest! {
        #[test]
        fn binds_stay_within_the_acl_and_the_reservations(
            dev in any::<bool>(),
            acl in prop::collection::vec(rule(), 0..4),
            reserved in prop::collection::hash_set(reserved(), 0..4),
            ask in ask(),
            client in client(),
            taken in any::<bool>(),
        ) {
            let (proto, opts) = opts(&ask);
            let req = request(proto, opts).unwrap();
            // As `bind.rs` asks the store: only outside dev mode, only for a chosen name.
            let candidates = req.reservation_candidates();
            let reservation = if dev || candidates.is_empty() {
                Reservation::Unchecked
            } else if candidates.iter().any(|c| reserved.contains(c)) {
                Reservation::Held
            } else {
                Reservation::Missing
            };
            let target = target(&ask);
            let mut registry = Held::default();
            if let (true, Wanted::Host(h) | Wanted::RandomHost(h)) = (taken, &req.wanted) {
                registry.hosts.insert(h.clone(), tid("tn_other"));
            }
            let case = Case { dev, acl: acl.clone(), reservation, client: client.clone(), registry, ..Case::default() };
            let is_host = !matches!(ask, Ask::Port(_) | Ask::AnyPort);
            let acl_ok = oracle_allows(&acl, target.as_deref());
            let reservation_ok = dev || target.as_deref().is_none_or(|t| is_reserved(&reserved, t));
            let free = !(taken && is_host);

            match case.decide(req) {
                Ok(d) => {
                    prop_assert!(acl_ok, "allowed outside the ACL");
                    prop_assert!(reservation_ok, "allowed without a reservation");
                    prop_assert!(free, "allowed a name another tunnel holds");
                    prop_assert_eq!(d.settle.is_zero(), client.is_ferry());
                    if let Endpoint::Host(h) = &d.endpoint {
                        let name = h.to_string();
                        prop_assert_eq!(d.opts["Hostname"].as_str(), Some(name.as_str()));
                    }
                }
                Err(e) => {
                    prop_assert!(!(acl_ok && reservation_ok && free), "refused a bind every rule allows: {}", e);
                    let expected = [
                        ErrorCode::AclDenied,
                        ErrorCode::AddrNotReserved,
                        ErrorCode::DomainNotReserved,
                        ErrorCode::EndpointTaken,
                        ErrorCode::WildcardNotReserved,
                    ];
                    prop_assert!(expected.contains(&e.code()), "unexpected refusal: {}", e);
                }
            }
        }
    }
}
