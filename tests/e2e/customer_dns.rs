//! A stand-in for a customer's DNS provider, asked as a resolver would be: records the test
//! sets and changes while it runs (CNAME, A, NS, and `*.` wildcards), answered
//! authoritatively in the answer section over UDP and TCP on one loopback port picked at run
//! time. Unknown names are NXDOMAIN; a known name without the asked type is NODATA.
//!
//! With [`CustomerDns::follow_into`] it also acts as the resolver a CA would use: a CNAME
//! whose target it does not hold is followed into that server (Ferry's DNS), and the
//! target's records are added to the answer section, as pebble's `-dnsserver` needs; a name
//! inside a zone it delegates (NS records) is asked of that server whole.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

const TTL: u32 = 1;

/// One record set the test created.
#[derive(Clone, Debug)]
pub enum Rec {
    Cname(String),
    A(Ipv4Addr),
    Ns(Vec<String>),
}

impl Rec {
    fn record_type(&self) -> RecordType {
        match self {
            Rec::Cname(_) => RecordType::CNAME,
            Rec::A(_) => RecordType::A,
            Rec::Ns(_) => RecordType::NS,
        }
    }

    fn rdata(&self) -> Vec<RData> {
        let name = |n: &str| Name::from_ascii(format!("{n}.")).expect("a DNS name");
        match self {
            Rec::Cname(t) => vec![RData::CNAME(CNAME(name(t)))],
            Rec::A(ip) => vec![RData::A(A(*ip))],
            Rec::Ns(servers) => servers.iter().map(|s| RData::NS(NS(name(s)))).collect(),
        }
    }
}

/// The records by owner name (lower case, no final dot; `*.x.y` for a wildcard), one set
/// per type.
#[derive(Default)]
pub struct Zone {
    names: HashMap<String, Vec<Rec>>,
    upstream: Option<SocketAddr>,
}

impl Zone {
    /// The records at `name`, exact first, else the wildcard one label up.
    fn at(&self, name: &str) -> Option<&Vec<Rec>> {
        self.names.get(name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.names.get(&format!("*.{parent}"))
        })
    }

    /// The delegation point at or above `name` (a name with NS records), if any.
    fn delegation(&self, name: &str) -> Option<String> {
        let mut at = name;
        loop {
            if self
                .names
                .get(at)
                .is_some_and(|recs| recs.iter().any(|r| matches!(r, Rec::Ns(_))))
            {
                return Some(at.to_string());
            }
            at = at.split_once('.')?.1;
        }
    }

    /// The answer to one question: its records (owned by the name asked), NODATA or
    /// NXDOMAIN. A CNAME answers any type, as at a real server.
    fn answer(&self, asked: &Name, rtype: RecordType) -> (ResponseCode, Vec<Record>) {
        let name = asked.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let Some(recs) = self.at(&name) else {
            return (ResponseCode::NXDomain, Vec::new());
        };
        let chosen = recs
            .iter()
            .find(|r| r.record_type() == rtype)
            .or_else(|| recs.iter().find(|r| matches!(r, Rec::Cname(_))));
        let records = chosen
            .map(|r| {
                r.rdata()
                    .into_iter()
                    .map(|d| Record::from_rdata(asked.clone(), TTL, d))
                    .collect()
            })
            .unwrap_or_default();
        (ResponseCode::NoError, records)
    }
}

/// The running server; stops when dropped.
pub struct CustomerDns {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    tasks: Vec<JoinHandle<()>>,
}

impl CustomerDns {
    pub async fn start() -> CustomerDns {
        // UDP first, then TCP on the same port; another process may hold that TCP port.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().expect("addr")).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("addr");
        let zone = Arc::new(Mutex::new(Zone::default()));
        let z = zone.clone();
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(reply) = respond(&z, &buf[..n]).await {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        let z = zone.clone();
        let tcp_task = tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                tokio::spawn(serve_tcp(stream, z.clone()));
            }
        });
        CustomerDns {
            addr,
            zone,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// Replaces the records of `kind` at `name` (other types there stay).
    pub fn set(&self, name: &str, rec: Rec) {
        let mut zone = self.zone.lock().unwrap();
        let recs = zone.names.entry(name.to_ascii_lowercase()).or_default();
        recs.retain(|r| r.record_type() != rec.record_type());
        recs.push(rec);
    }

    /// Follows CNAMEs to names it does not hold into `upstream`, as a recursive resolver.
    pub fn follow_into(&self, upstream: SocketAddr) {
        self.zone.lock().unwrap().upstream = Some(upstream);
    }

    /// Deletes every record at `name`.
    pub fn remove(&self, name: &str) {
        self.zone
            .lock()
            .unwrap()
            .names
            .remove(&name.to_ascii_lowercase());
    }
}

impl CustomerDns {
    /// Serves the records written in `path` until the task is dropped, reading the file again
    /// whenever it changes, as a reader edits records at their provider. One record per line,
    /// `NAME TYPE VALUE...` with TYPE `CNAME`, `A` or `NS` (`*.` wildcards allowed), and
    /// `@follow HOST:PORT` for the server to follow CNAMEs and delegations into.
    pub async fn serve_file(&self, path: &std::path::Path) {
        let mut applied = String::new();
        let mut names: Vec<String> = Vec::new();
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text != applied {
                for n in names.drain(..) {
                    self.remove(&n);
                }
                for line in text.lines() {
                    match parse_record(line) {
                        Ok(Some((name, rec))) => {
                            self.set(&name, rec);
                            names.push(name);
                        }
                        Ok(None) => {}
                        Err(e) => eprintln!("customer DNS: {}: {e}", path.display()),
                    }
                }
                if let Some(up) = follow_line(&text) {
                    self.follow_into(up);
                }
                applied = text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

fn parse_record(line: &str) -> Result<Option<(String, Rec)>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        [first, ..] if first.starts_with('#') => Ok(None),
        ["@follow", _] => Ok(None),
        [name, "CNAME", target] => Ok(Some((name.to_string(), Rec::Cname(target.to_string())))),
        [name, "A", ip] => ip
            .parse()
            .map(|ip| Some((name.to_string(), Rec::A(ip))))
            .map_err(|e| format!("{ip:?}: {e}")),
        [name, "NS", servers @ ..] if !servers.is_empty() => Ok(Some((
            name.to_string(),
            Rec::Ns(servers.iter().map(|s| s.to_string()).collect()),
        ))),
        _ => Err(format!("not NAME CNAME|A|NS VALUE: {line:?}")),
    }
}

fn follow_line(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("@follow")).then(|| w.next()?.parse().ok())?
    })
}

impl Drop for CustomerDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve_tcp(mut stream: TcpStream, zone: Arc<Mutex<Zone>>) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = respond(&zone, &query).await else {
            return;
        };
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend(reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// The reply to one query message, or nothing for bytes that are not a query.
async fn respond(zone: &Mutex<Zone>, bytes: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(bytes).ok()?;
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    if let Some(q) = query.queries.first() {
        let delegated = {
            let zone = zone.lock().unwrap();
            let name = q
                .name()
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            match (zone.upstream, zone.delegation(&name)) {
                (Some(up), Some(point)) if point != name || q.query_type() != RecordType::NS => {
                    Some(up)
                }
                _ => None,
            }
        };
        if let Some(upstream) = delegated {
            let answer = ask(upstream, q.name(), q.query_type()).await?;
            reply.metadata.response_code = answer.metadata.response_code;
            reply.add_query(q.clone());
            reply.add_answers(answer.answers.clone());
            return reply.to_vec().ok();
        }
        let (code, mut answers, follow) = {
            let zone = zone.lock().unwrap();
            let (code, answers) = zone.answer(q.name(), q.query_type());
            let follow = match (zone.upstream, answers.first().map(|r| &r.data)) {
                (Some(up), Some(RData::CNAME(target))) if q.query_type() != RecordType::CNAME => {
                    let t = target
                        .0
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    zone.at(&t).is_none().then(|| (up, target.0.clone()))
                }
                _ => None,
            };
            (code, answers, follow)
        };
        if let Some((upstream, target)) = follow {
            if let Some(answer) = ask(upstream, &target, q.query_type()).await {
                answers.extend(answer.answers.clone());
            }
        }
        reply.metadata.response_code = code;
        reply.add_query(q.clone());
        reply.add_answers(answers);
    }
    reply.to_vec().ok()
}

/// The reply of `server` to `name`/`rtype`, over UDP; none on any failure.
async fn ask(server: SocketAddr, name: &Name, rtype: RecordType) -> Option<Message> {
    let mut query = Message::query();
    query.add_query(hickory_proto::op::Query::query(name.clone(), rtype));
    let bytes = query.to_vec().ok()?;
    let sock = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    let mut buf = vec![0u8; 4096];
    let exchange = async {
        sock.send_to(&bytes, server).await.ok()?;
        let n = sock.recv(&mut buf).await.ok()?;
        Message::from_vec(&buf[..n]).ok()
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}
