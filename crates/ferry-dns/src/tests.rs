//! The zones and the responses, without sockets: every record kind, REFUSED, NXDOMAIN
//! against NODATA, case, the header flags and EDNS, each through the same packet path the
//! server takes.

use std::net::IpAddr;

use hickory_server::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, NS};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::{answer_packet, Challenge, IngressZone, Region, Skipped, Snapshot, ZoneSet};

const CNAME: &str = "abc.def.cname.ferry.example";
const ACME: &str = "xyz.acme-challenge.ferry.example";

fn snapshot() -> Snapshot {
    Snapshot {
        base_domain: "ferry.example".into(),
        ns_targets: vec!["ns1.ferry.example".into(), "ns2.ferry.example".into()],
        agent_ingresses: vec![IngressZone {
            domain: "connect.customer.test".into(),
            ns_targets: vec!["ns1.ferry.example".into(), "ns2.ferry.example".into()],
        }],
        regions: ["eu", "us"]
            .into_iter()
            .map(|name| Region {
                name: name.into(),
                public_ips: public_ips(),
            })
            .collect(),
        public_ips: public_ips(),
        cname_targets: vec![CNAME.into()],
        acme_targets: vec![ACME.into()],
        challenges: Vec::new(),
        ttl: 60,
        negative_ttl: 5,
        serial: 7,
    }
}

fn public_ips() -> Vec<IpAddr> {
    vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]
}

fn zones(s: &Snapshot) -> ZoneSet {
    let (set, skipped) = ZoneSet::build(s);
    assert_eq!(skipped, Vec::new());
    set
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// Sends one question through the packet path and decodes the response.
fn ask_with(set: &ZoneSet, q: &str, t: RecordType, edit: impl FnOnce(&mut Message)) -> Message {
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(q), t));
    edit(&mut m);
    let bytes = answer_packet(set, &m.to_vec().unwrap(), true).expect("an answer");
    let r = Message::from_vec(&bytes).unwrap();
    assert_eq!(r.metadata.id, 4242);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert!(r.metadata.recursion_desired, "RD is copied");
    assert!(!r.metadata.recursion_available, "Ferry is no resolver");
    r
}

fn ask(set: &ZoneSet, q: &str, t: RecordType) -> Message {
    ask_with(set, q, t, |_| {})
}

fn ips(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(A(v4)) => Some(IpAddr::V4(*v4)),
            RData::AAAA(AAAA(v6)) => Some(IpAddr::V6(*v6)),
            _ => None,
        })
        .collect()
}

fn txts(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

/// NOERROR, authoritative, no answer, the zone's SOA in authority.
fn assert_nodata(m: &Message, apex: &str) {
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty(), "{m:?}");
    assert_soa_authority(m, apex);
}

fn assert_nxdomain(m: &Message, apex: &str) {
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    assert_soa_authority(m, apex);
}

fn assert_soa_authority(m: &Message, apex: &str) {
    assert_eq!(m.authorities.len(), 1, "{m:?}");
    let soa = &m.authorities[0];
    assert_eq!(soa.name, name(&format!("{apex}.")));
    let RData::SOA(data) = &soa.data else {
        panic!("not a SOA: {soa:?}")
    };
    assert_eq!(data.minimum, 5, "negative answers are cached briefly");
}

#[test]
fn agent_ingress_zone_has_soa_ns_and_tunnel_addresses() {
    let set = zones(&snapshot());
    let soa = ask(&set, "connect.customer.test.", RecordType::SOA);
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    assert!(soa.metadata.authoritative);
    let RData::SOA(data) = &soa.answers[0].data else {
        panic!("{soa:?}")
    };
    assert_eq!(data.mname, name("ns1.ferry.example."));
    assert_eq!(data.rname, name("hostmaster.connect.customer.test."));
    assert_eq!(data.serial, 7);
    assert_eq!(soa.answers[0].ttl, 60);

    let ns = ask(&set, "connect.customer.test.", RecordType::NS);
    let targets: Vec<_> = ns
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::NS(NS(n)) => n.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(targets, ["ns1.ferry.example.", "ns2.ferry.example."]);
    assert!(ns.metadata.authoritative);
    // The name servers are in the base domain zone, which Ferry serves: glue.
    assert_eq!(ns.additionals.len(), 4, "{ns:?}");

    for region in ["eu", "us"] {
        let q = format!("tunnel.{region}.connect.customer.test.");
        let a = ask(&set, &q, RecordType::A);
        assert_eq!(ips(&a), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.answers[0].ttl, 60);
        let aaaa = ask(&set, &q, RecordType::AAAA);
        assert_eq!(ips(&aaaa), ["2001:db8::1".parse::<IpAddr>().unwrap()]);
        assert_nodata(&ask(&set, &q, RecordType::TXT), "connect.customer.test");
    }
    assert_nxdomain(
        &ask(&set, "tunnel.ap.connect.customer.test.", RecordType::A),
        "connect.customer.test",
    );
    // Between a record and the apex: the name exists, without records.
    assert_nodata(
        &ask(&set, "eu.connect.customer.test.", RecordType::A),
        "connect.customer.test",
    );
    // The domain itself answers every live node's addresses, beside its SOA and NS.
    let apex = ask(&set, "connect.customer.test.", RecordType::A);
    assert_eq!(ips(&apex), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
    assert!(apex.metadata.authoritative);
}

#[test]
fn base_domain_zone_answers_targets_and_name_servers() {
    let set = zones(&snapshot());
    let soa = ask(&set, "ferry.example.", RecordType::SOA);
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers.len(), 1);
    let ns = ask(&set, "ferry.example.", RecordType::NS);
    assert_eq!(ns.answers.len(), 2);

    let a = ask(&set, &format!("{CNAME}."), RecordType::A);
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(ips(&a), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
    let aaaa = ask(&set, &format!("{CNAME}."), RecordType::AAAA);
    assert_eq!(ips(&aaaa), ["2001:db8::1".parse::<IpAddr>().unwrap()]);
    assert_nodata(
        &ask(&set, "def.cname.ferry.example.", RecordType::A),
        "ferry.example",
    );

    for ns in ["ns1.ferry.example.", "ns2.ferry.example."] {
        assert_eq!(ips(&ask(&set, ns, RecordType::A)).len(), 1, "{ns}");
    }
    assert_nxdomain(
        &ask(&set, "ns3.ferry.example.", RecordType::A),
        "ferry.example",
    );
    assert_nxdomain(
        &ask(&set, "other.cname.ferry.example.", RecordType::A),
        "ferry.example",
    );
}

#[test]
fn acme_target_is_nodata_until_a_challenge_is_pending() {
    let mut s = snapshot();
    let set = zones(&s);
    let txt = ask(&set, &format!("{ACME}."), RecordType::TXT);
    assert_nodata(&txt, "ferry.example");

    s.challenges = vec![
        Challenge {
            name: ACME.into(),
            value: "first-digest".into(),
        },
        Challenge {
            name: format!("{}.", ACME.to_uppercase()),
            value: "second-digest".into(),
        },
        Challenge {
            name: "_acme-challenge.connect.customer.test".into(),
            value: "ingress-digest".into(),
        },
    ];
    let set = zones(&s);
    let txt = ask(&set, &format!("{ACME}."), RecordType::TXT);
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    assert!(txt.metadata.authoritative);
    assert_eq!(txts(&txt), ["first-digest", "second-digest"]);
    assert!(txt.answers.iter().all(|r| r.ttl == 5), "{txt:?}");
    // No address at an acme target.
    assert_nodata(
        &ask(&set, &format!("{ACME}."), RecordType::A),
        "ferry.example",
    );

    let ingress = ask(
        &set,
        "_acme-challenge.connect.customer.test.",
        RecordType::TXT,
    );
    assert_eq!(txts(&ingress), ["ingress-digest"]);
}

#[test]
fn long_challenge_values_are_split_into_txt_strings() {
    let mut s = snapshot();
    let value = "v".repeat(600);
    s.challenges = vec![Challenge {
        name: ACME.into(),
        value: value.clone(),
    }];
    let set = zones(&s);
    // Over 512 bytes: the client has to offer more (EDNS), as every resolver does.
    let txt = ask_with(&set, &format!("{ACME}."), RecordType::TXT, |m| {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    });
    let RData::TXT(t) = &txt.answers[0].data else {
        panic!("{txt:?}")
    };
    let parts: Vec<usize> = t.txt_data.iter().map(|p| p.len()).collect();
    assert_eq!(parts, [255, 255, 90]);
    assert_eq!(t.to_string(), value);
}

#[test]
fn names_outside_the_zones_are_refused() {
    let set = zones(&snapshot());
    for q in [
        "example.com.",
        "customer.test.",
        "test.",
        ".",
        "ferry.example.com.",
        "xconnect.customer.test.",
    ] {
        let r = ask(&set, q, RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{q}");
        assert!(!r.metadata.authoritative, "{q}");
        assert!(r.answers.is_empty() && r.authorities.is_empty(), "{q}");
    }
    let empty = ZoneSet::default();
    let r = ask(&empty, "ferry.example.", RecordType::SOA);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn names_match_in_any_case_and_the_question_is_echoed() {
    let set = zones(&snapshot());
    let q = "TuNNel.EU.Connect.Customer.TEST.";
    let a = ask(&set, q, RecordType::A);
    assert_eq!(ips(&a).len(), 1);
    assert!(a.queries[0].name().eq_case(&name(q)), "{:?}", a.queries);
    assert!(a.answers[0].name.eq_case(&name(q)), "{:?}", a.answers);
    let soa = ask(&set, "FERRY.example.", RecordType::SOA);
    assert!(soa.metadata.authoritative);
}

#[test]
fn any_answers_every_record_at_the_name() {
    let set = zones(&snapshot());
    let any = ask(&set, "ferry.example.", RecordType::ANY);
    // SOA and two NS.
    assert_eq!(any.answers.len(), 3, "{any:?}");
    let any = ask(&set, &format!("{CNAME}."), RecordType::ANY);
    assert_eq!(ips(&any).len(), 2);
}

#[test]
fn questions_ferry_does_not_take() {
    let set = zones(&snapshot());
    let axfr = ask(&set, "ferry.example.", RecordType::AXFR);
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);
    let chaos = ask_with(&set, "version.bind.", RecordType::TXT, |m| {
        m.queries[0].set_query_class(DNSClass::CH);
    });
    assert_eq!(chaos.metadata.response_code, ResponseCode::Refused);
    let notify = ask_with(&set, "ferry.example.", RecordType::SOA, |m| {
        m.metadata.op_code = OpCode::Notify;
    });
    assert_eq!(notify.metadata.response_code, ResponseCode::NotImp);
    let two = ask_with(&set, "ferry.example.", RecordType::SOA, |m| {
        m.add_query(Query::query(name("ferry.example."), RecordType::NS));
    });
    assert_eq!(two.metadata.response_code, ResponseCode::FormErr);
    assert!(two.answers.is_empty());
}

#[test]
fn edns_is_answered_and_bounds_the_udp_size() {
    let mut s = snapshot();
    s.public_ips = (1..=60u8).map(|i| IpAddr::from([192, 0, 2, i])).collect();
    let set = zones(&s);
    let q = format!("{CNAME}.");
    // Without EDNS a UDP answer stops at 512 bytes: truncated, the client retries on TCP.
    let plain = ask(&set, &q, RecordType::A);
    assert!(plain.metadata.truncation, "{plain:?}");
    assert!(plain.edns.is_none());
    let with = ask_with(&set, &q, RecordType::A, |m| {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        m.set_edns(e);
    });
    assert!(!with.metadata.truncation);
    assert_eq!(ips(&with).len(), 60);
    assert_eq!(with.edns.as_ref().unwrap().max_payload(), 1232);

    let bad_version = ask_with(&set, &q, RecordType::A, |m| {
        let mut e = Edns::new();
        e.set_version(1);
        m.set_edns(e);
    });
    // BADVERS (16) shares its number with BADSIG, which is what decoding it gives back.
    assert_eq!(u16::from(bad_version.metadata.response_code), 16);
}

#[test]
fn what_the_server_does_not_answer() {
    let set = zones(&snapshot());
    assert_eq!(answer_packet(&set, &[], true), None);
    assert_eq!(answer_packet(&set, &[0; 11], true), None);
    let mut response = Message::response(1, OpCode::Query);
    response.add_query(Query::query(name("ferry.example."), RecordType::SOA));
    assert_eq!(
        answer_packet(&set, &response.to_vec().unwrap(), true),
        None,
        "a response is never answered (reflection)"
    );
}

#[test]
fn nested_zones_answer_from_the_most_specific() {
    let mut s = snapshot();
    s.agent_ingresses.push(IngressZone {
        domain: "connect.ferry.example".into(),
        ns_targets: vec!["ns1.ferry.example".into()],
    });
    let set = zones(&s);
    let soa = ask(&set, "connect.ferry.example.", RecordType::SOA);
    assert_eq!(soa.answers.len(), 1);
    assert_nxdomain(
        &ask(&set, "nothing.connect.ferry.example.", RecordType::A),
        "connect.ferry.example",
    );
    let a = ask(&set, "tunnel.us.connect.ferry.example.", RecordType::A);
    assert_eq!(ips(&a).len(), 1);
}

#[test]
fn an_ingress_domain_equal_to_the_base_domain_is_one_zone() {
    let mut s = snapshot();
    s.agent_ingresses = vec![IngressZone {
        domain: "FERRY.example.".into(),
        ns_targets: vec!["ns1.ferry.example".into(), "ns9.elsewhere.test".into()],
    }];
    let set = zones(&s);
    assert_eq!(set.apexes().count(), 1);
    let ns = ask(&set, "ferry.example.", RecordType::NS);
    assert_eq!(ns.answers.len(), 3, "{ns:?}");
    assert_eq!(
        ips(&ask(&set, "tunnel.eu.ferry.example.", RecordType::A)).len(),
        1
    );
}

#[test]
fn names_that_cannot_be_served_are_reported_and_left_out() {
    let mut s = snapshot();
    s.cname_targets.push("a.b.elsewhere.test".into());
    s.cname_targets
        .push(format!("{}.cname.ferry.example", "x".repeat(64)));
    s.acme_targets.push(String::new());
    s.challenges.push(Challenge {
        name: "_acme-challenge.example.org".into(),
        value: "v".into(),
    });
    let (set, skipped) = ZoneSet::build(&s);
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(matches!(
        &skipped[0],
        Skipped::OutsideZones { what: "cname target", name } if name == "a.b.elsewhere.test"
    ));
    assert!(matches!(
        &skipped[1],
        Skipped::BadName {
            what: "cname target",
            ..
        }
    ));
    assert!(matches!(&skipped[2], Skipped::BadName { why, .. } if why == "it is empty"));
    assert!(matches!(
        &skipped[3],
        Skipped::OutsideZones {
            what: "challenge name",
            ..
        }
    ));
    // The rest is served.
    assert_eq!(
        ips(&ask(&set, &format!("{CNAME}."), RecordType::A)).len(),
        1
    );
    let r = ask(&set, "a.b.elsewhere.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);

    // An empty base domain is not the root zone.
    let mut s = snapshot();
    s.base_domain = String::new();
    s.agent_ingresses.clear();
    let (set, _) = ZoneSet::build(&s);
    assert_eq!(set.apexes().count(), 0);
}

#[test]
fn without_public_addresses_the_names_still_exist() {
    let mut s = snapshot();
    s.public_ips.clear();
    s.regions[0].public_ips.clear();
    let set = zones(&s);
    assert_nodata(
        &ask(&set, &format!("{CNAME}."), RecordType::A),
        "ferry.example",
    );
    assert_nodata(
        &ask(&set, "tunnel.eu.connect.customer.test.", RecordType::A),
        "connect.customer.test",
    );
}

#[test]
fn records_keep_the_ttls_of_the_snapshot() {
    let mut s = snapshot();
    s.ttl = 300;
    let set = zones(&s);
    let a = set.answer(&name(&format!("{CNAME}.")), RecordType::A);
    assert!(a.answers.iter().all(|r: &Record| r.ttl == 300));
    let soa = set.answer(&name("ferry.example."), RecordType::SOA);
    assert_eq!(soa.answers[0].ttl, 300);
}

/// The server itself on loopback: one port for UDP and TCP, and new zones served from the
/// next query on.
#[tokio::test]
async fn server_answers_over_udp_and_tcp_from_the_current_zones() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let zones = crate::Zones::default();
    let server = crate::DnsServer::start("127.0.0.1:0".parse().unwrap(), zones.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let mut query = Message::query();
    query.metadata.id = 7;
    query.add_query(Query::query(name(&format!("{CNAME}.")), RecordType::A));
    let query = query.to_vec().unwrap();

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ask_udp = || async {
        udp.send_to(&query, addr).await.unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) =
            tokio::time::timeout(std::time::Duration::from_secs(5), udp.recv_from(&mut buf))
                .await
                .expect("a UDP answer")
                .unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    };
    // Before any zones: refused.
    assert_eq!(
        ask_udp().await.metadata.response_code,
        ResponseCode::Refused
    );
    zones.replace(ZoneSet::build(&snapshot()).0);
    let r = ask_udp().await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ips(&r).len(), 1);

    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let len = u16::try_from(query.len()).unwrap().to_be_bytes();
    tcp.write_all(&len).await.unwrap();
    tcp.write_all(&query).await.unwrap();
    let n = tcp.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(n)];
    tcp.read_exact(&mut buf).await.unwrap();
    let r = Message::from_vec(&buf).unwrap();
    assert!(r.metadata.authoritative);
    assert_eq!(ips(&r).len(), 1);

    server.stop();
}

/// Each region's tunnel name answers the addresses of that region's nodes only.
#[test]
fn each_region_answers_its_own_nodes() {
    let mut s = snapshot();
    s.regions[0].public_ips = vec!["127.0.0.11".parse().unwrap()];
    s.regions[1].public_ips = vec!["127.0.0.12".parse().unwrap()];
    let set = zones(&s);
    for (region, ip) in [("eu", [127, 0, 0, 11]), ("us", [127, 0, 0, 12])] {
        let reply = ask(
            &set,
            &format!("tunnel.{region}.connect.customer.test."),
            RecordType::A,
        );
        let got: Vec<_> = reply.answers.iter().map(|r| r.data.clone()).collect();
        let ip = std::net::Ipv4Addr::from(ip);
        assert_eq!(got, [RData::A(A::from(ip))], "{region}");
    }
}

#[test]
fn several_addresses_come_nearest_first_to_the_client_subnet_or_the_resolver() {
    use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};

    let mut s = snapshot();
    s.public_ips = ["192.0.2.1", "198.51.100.9", "203.0.113.5"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let (set, _) = ZoneSet::build(&s);
    let q = "connect.customer.test.";
    // answer_packet answers as if from 127.0.0.1: no address is near, the zone's order holds.
    let plain = ask(&set, q, RecordType::A);
    assert_eq!(ips(&plain), s.public_ips);
    // A resolver that passes its client's subnet gets the node in that block first, and the
    // scope it may cache the order for.
    let near = ask_with(&set, q, RecordType::A, |m| {
        let mut e = Edns::new();
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            "203.0.113.0".parse().unwrap(),
            24,
            0,
        )));
        m.set_edns(e);
    });
    assert_eq!(ips(&near)[0], "203.0.113.5".parse::<IpAddr>().unwrap());
    assert_eq!(ips(&near).len(), 3);
    match near.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
        Some(EdnsOption::Subnet(s)) => assert_eq!(s.scope_prefix(), 24),
        other => panic!("no client subnet in the answer: {other:?}"),
    }
    // Without the option, the resolver's own address decides.
    let mut records = plain.answers.clone();
    crate::respond::nearest_first(&mut records, "198.51.100.200".parse().unwrap());
    assert_eq!(
        records[0].data,
        RData::A(A("198.51.100.9".parse().unwrap()))
    );
}
