//! From a decoded request to the response's parts: which questions Ferry takes, the header
//! flags, and EDNS. Pure, so that the unit tests and the fuzz target run exactly what the
//! server runs, without sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_server::proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::Request;
use hickory_server::zone_handler::{MessageRequest, MessageResponseBuilder};

use crate::zones::{Answer, ZoneSet};

/// The largest UDP answer offered to a client that advertises more: the size DNS Flag Day
/// 2020 settled on, which avoids IP fragmentation on common paths. Larger answers are
/// truncated (TC) and the client retries over TCP.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// A response, but for the question section (echoed from the request as it came).
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The code, the AA flag and the records.
    pub answer: Answer,
    /// The response's OPT record, when the request had one.
    pub edns: Option<Edns>,
}

impl Reply {
    /// The response header for `request`: its ID, opcode and RD flag, with this reply's code
    /// and AA flag.
    pub fn metadata(&self, request: &Metadata) -> Metadata {
        let mut m = Metadata::response_from_request(request);
        m.authoritative = self.answer.authoritative;
        m.response_code = self.answer.code;
        m
    }
}

/// What Ferry answers to `request`, which came from `from`. A standard query with one
/// question of class IN is looked up in `zones`; anything else is refused or reported as not
/// implemented, never forwarded (Ferry is no resolver). Several addresses come nearest
/// first (`nearest_first`) to the client subnet the resolver passed on (EDNS Client Subnet,
/// RFC 7871, whose scope the response then states), else to the resolver.
pub fn respond(zones: &ZoneSet, request: &MessageRequest, from: IpAddr) -> Reply {
    let subnet = request
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Subnet) {
            Some(EdnsOption::Subnet(s)) => Some(*s),
            _ => None,
        });
    let edns = request.edns.as_ref().map(|asked| {
        let mut e = Edns::new();
        e.set_version(0);
        e.set_max_payload(asked.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        if let Some(s) = subnet {
            // The order depends on the whole source prefix: that is the answer's scope.
            e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
                s.addr(),
                s.source_prefix(),
                s.source_prefix(),
            )));
        }
        e
    });
    let refuse = |code| Reply {
        answer: Answer::empty(code),
        edns: edns.clone(),
    };
    if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
        return refuse(ResponseCode::BADVERS);
    }
    if request.metadata.op_code != OpCode::Query {
        return refuse(ResponseCode::NotImp);
    }
    let [query] = request.queries.queries() else {
        return refuse(ResponseCode::FormErr);
    };
    if query.query_class() != DNSClass::IN {
        return refuse(ResponseCode::Refused);
    }
    // Zone transfers are not offered: the zones are rebuilt from the store on every node.
    if matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR) {
        return refuse(ResponseCode::Refused);
    }
    let mut answer = zones.answer(query.original().name(), query.query_type());
    nearest_first(&mut answer.answers, subnet.map_or(from, |s| s.addr()));
    Reply {
        answer,
        edns: edns.clone(),
    }
}

/// Orders address records by how many leading bits each shares with `client`, most first
/// (the same network, then the same larger block); ties keep the zone's order. With no map
/// of the world, the addresses themselves are the only distance Ferry knows: nodes in the
/// client's own network, or its provider's block, lead the answer.
pub fn nearest_first(answers: &mut [Record], client: IpAddr) {
    answers.sort_by_key(|r| std::cmp::Reverse(shared_bits(&r.data, client)));
}

fn shared_bits(data: &RData, client: IpAddr) -> u32 {
    match (data, client) {
        (RData::A(a), IpAddr::V4(c)) => (u32::from(a.0) ^ u32::from(c)).leading_zeros(),
        (RData::AAAA(a), IpAddr::V6(c)) => (u128::from(a.0) ^ u128::from(c)).leading_zeros(),
        _ => 0,
    }
}

/// The bytes the server sends back for `packet`, or `None` where it sends nothing (a packet
/// that is not a request it can decode). `udp` limits the size as for a UDP client, which
/// gets a truncated answer when the records do not fit.
pub fn answer_packet(zones: &ZoneSet, packet: &[u8], udp: bool) -> Option<Vec<u8>> {
    let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
    let from = SocketAddr::from((Ipv4Addr::LOCALHOST, 53));
    let request = Request::from_bytes(packet.to_vec(), from, protocol).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let reply = respond(zones, &request, from.ip());
    let response = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref()).build(
        reply.metadata(&request.metadata),
        reply.answer.answers.iter(),
        reply.answer.authority.iter(),
        std::iter::empty(),
        reply.answer.additional.iter(),
    );
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(match (&reply.edns, udp) {
        (Some(e), true) => e.max_payload(),
        (None, true) => 512,
        (_, false) => u16::MAX,
    });
    response.destructive_emit(&mut encoder).ok()?;
    Some(bytes)
}
