//! Fuzzes Ferry's DNS answering (ferry-dns: decoding a query, choosing the answer, encoding
//! it) with arbitrary packets over UDP and TCP rules: it must never panic, and whatever it
//! sends back must decode as a response to the same ID that fits the transport's limit.
#![no_main]

use std::sync::OnceLock;

use ferry_dns::proto::op::{Message, MessageType};
use ferry_dns::{
    answer_packet, Challenge, IngressZone, Region, Snapshot, ZoneSet, MAX_UDP_PAYLOAD,
};
use libfuzzer_sys::fuzz_target;

/// Zones with every kind of record the server answers.
fn zones() -> &'static ZoneSet {
    static ZONES: OnceLock<ZoneSet> = OnceLock::new();
    ZONES.get_or_init(|| {
        let ns = vec!["ns1.ferry.example".to_string(), "ns2.ferry.example".to_string()];
        let ips: Vec<std::net::IpAddr> =
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let snapshot = Snapshot {
            base_domain: "ferry.example".into(),
            ns_targets: ns.clone(),
            agent_ingresses: vec![IngressZone {
                domain: "connect.customer.test".into(),
                ns_targets: ns,
            }],
            regions: ["eu", "us"]
                .into_iter()
                .map(|name| Region {
                    name: name.into(),
                    public_ips: ips.clone(),
                })
                .collect(),
            public_ips: ips,
            cname_targets: vec!["a.b.cname.ferry.example".into()],
            acme_targets: vec!["c.acme-challenge.ferry.example".into()],
            challenges: vec![Challenge {
                name: "c.acme-challenge.ferry.example".into(),
                value: "digest".into(),
            }],
            ttl: 60,
            negative_ttl: 5,
            serial: 7,
        };
        ZoneSet::build(&snapshot).0
    })
}

fuzz_target!(|data: &[u8]| {
    for udp in [true, false] {
        let Some(reply) = answer_packet(zones(), data, udp) else {
            continue;
        };
        if udp {
            assert!(reply.len() <= usize::from(MAX_UDP_PAYLOAD), "{} bytes over UDP", reply.len());
        }
        let decoded = Message::from_vec(&reply).expect("the reply decodes");
        assert_eq!(decoded.metadata.message_type, MessageType::Response);
        let query = Message::from_vec(data).expect("a packet answered was a message");
        assert_eq!(decoded.metadata.id, query.metadata.id);
    }
});
