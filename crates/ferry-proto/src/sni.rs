//! The server name a TLS client asks for, read from the first bytes it sends, without
//! terminating TLS.
//!
//! The edge reads a connection's first bytes into a buffer and calls
//! [`parse_client_hello_sni`] after every read until the answer is no longer
//! [`ClientHelloSni::Incomplete`]. It then routes by the name and either replays the same
//! bytes into rustls (terminating TLS itself) or hands them untouched to an agent
//! (passthrough). Nothing here consumes, copies out of or rewrites the caller's buffer.
//!
//! The parser reassembles a ClientHello that spans several TLS records, checks every length
//! field against the bytes it has, and never allocates more than the (bounded) handshake
//! message itself. A decision other than `Incomplete` depends only on the bytes already seen,
//! so more bytes never change it.

use std::borrow::Cow;

/// What the first bytes of a TLS connection say about the server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHelloSni {
    /// The ClientHello is not complete yet; call again once more bytes have arrived.
    Incomplete,
    /// A complete ClientHello without a `server_name` extension (or without a `host_name`
    /// entry in it), as clients send when they dial an IP address.
    NoSni,
    /// The `host_name` from the `server_name` extension, lower-cased. It is non-empty, at
    /// most 255 bytes, and only printable ASCII other than space (`0x21..=0x7e`); it is not
    /// otherwise checked to be a valid DNS name.
    Name(String),
}

/// Why the first bytes of a connection cannot be routed by SNI.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SniError {
    /// The bytes do not start a TLS handshake record (e.g. plain HTTP, or an SSLv2 hello).
    #[error("not a tls handshake: the first record is not a tls handshake record")]
    NotTls,
    /// A TLS handshake, but its first message is not a ClientHello.
    #[error("the first tls handshake message is not a client hello")]
    NotClientHello,
    /// A ClientHello (or the records carrying it) that breaks the TLS encoding; the text
    /// says which part was wrong.
    #[error("malformed client hello: {0}")]
    Malformed(&'static str),
    /// The ClientHello cannot be completed within [`MAX_CLIENT_HELLO`] bytes.
    #[error("client hello does not fit in the 65536 bytes the edge buffers")]
    TooLarge,
}

/// Upper bound of bytes the edge will buffer while waiting for a full ClientHello, record
/// headers included.
///
/// 64 KiB holds a ClientHello of up to 64 KiB minus 20 bytes when it is sent in full-size
/// (16 KiB) records, and several KiB even when a client fragments it into tiny records; real
/// ClientHellos (post-quantum key shares included) are a few hundred bytes to ~2 KiB.
/// [`parse_client_hello_sni`] never returns [`ClientHelloSni::Incomplete`] for a buffer of
/// this many bytes or more, and looks at no byte past this bound.
pub const MAX_CLIENT_HELLO: usize = 64 * 1024;

/// TLS record content type of handshake records.
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
/// Handshake message type of ClientHello.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Length of a TLS record header: type, version, length.
const RECORD_HEADER_LEN: usize = 5;
/// Length of a handshake message header: type, 24-bit length.
const HANDSHAKE_HEADER_LEN: usize = 4;
/// Largest plaintext record fragment TLS allows (2^14).
const MAX_RECORD_LEN: usize = 16 * 1024;
/// Extension type of `server_name` (RFC 6066).
const EXT_SERVER_NAME: u16 = 0;
/// `NameType` of `host_name` in the `server_name` extension.
const NAME_TYPE_HOST_NAME: u8 = 0;
/// Longest host name accepted (the DNS limit on a name's wire length).
const MAX_HOST_NAME_LEN: usize = 255;

/// Reads the server name from the start of a TLS connection.
///
/// `buf` is everything the client has sent so far, from its first byte. Returns
/// [`ClientHelloSni::Incomplete`] while more bytes could still complete the ClientHello,
/// and an answer or an error as soon as the bytes decide it: a non-TLS first byte is
/// rejected with [`SniError::NotTls`] from that byte alone. Bytes after the ClientHello
/// (a ChangeCipherSpec, early data, ...) are ignored.
pub fn parse_client_hello_sni(buf: &[u8]) -> Result<ClientHelloSni, SniError> {
    // Nothing past the bound can be part of an acceptable hello.
    let data = &buf[..buf.len().min(MAX_CLIENT_HELLO)];
    // More bytes can only help while the caller would still buffer them.
    let incomplete = if buf.len() >= MAX_CLIENT_HELLO {
        Err(SniError::TooLarge)
    } else {
        Ok(ClientHelloSni::Incomplete)
    };

    let mut message = Reassembly::default();
    // Total length of the ClientHello message (header included), once its header is known.
    let mut message_len: Option<usize> = None;
    let mut pos = 0;

    loop {
        if let Some(len) = message_len {
            if message.len() >= len {
                break;
            }
        }

        let first = pos == 0;
        let rest = &data[pos..];
        check_record_header(rest, first)?;
        if rest.len() < RECORD_HEADER_LEN {
            return incomplete;
        }
        let record_len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if record_len == 0 {
            return Err(SniError::Malformed("empty handshake record"));
        }
        if record_len > MAX_RECORD_LEN {
            return Err(SniError::Malformed("record longer than 2^14 bytes"));
        }
        let body = &rest[RECORD_HEADER_LEN..];
        let record_complete = body.len() >= record_len;
        let fragment = &body[..body.len().min(record_len)];
        // Only take what the message still needs: whatever follows the ClientHello in the
        // same record is not ours to look at.
        let wanted = match message_len {
            Some(len) => len - message.len(),
            None => fragment.len(),
        };
        message.push(&fragment[..fragment.len().min(wanted)]);

        let bytes = message.as_slice();
        if let Some(&msg_type) = bytes.first() {
            if msg_type != HANDSHAKE_CLIENT_HELLO {
                return Err(SniError::NotClientHello);
            }
        }
        if message_len.is_none() && bytes.len() >= HANDSHAKE_HEADER_LEN {
            let body_len =
                usize::from(bytes[1]) << 16 | usize::from(bytes[2]) << 8 | usize::from(bytes[3]);
            let len = HANDSHAKE_HEADER_LEN + body_len;
            if min_wire_len(len) > MAX_CLIENT_HELLO {
                return Err(SniError::TooLarge);
            }
            message.truncate(len);
            message_len = Some(len);
        }

        if !record_complete {
            if message_len.is_some_and(|len| message.len() >= len) {
                break;
            }
            return incomplete;
        }
        pos += RECORD_HEADER_LEN + record_len;
    }

    let bytes = message.as_slice();
    parse_client_hello_body(&bytes[HANDSHAKE_HEADER_LEN..])
}

/// Checks whatever part of a record header `rest` holds (it may hold less than five bytes).
fn check_record_header(rest: &[u8], first: bool) -> Result<(), SniError> {
    let bad = |what| {
        if first {
            SniError::NotTls
        } else {
            SniError::Malformed(what)
        }
    };
    if let Some(&content_type) = rest.first() {
        if content_type != CONTENT_TYPE_HANDSHAKE {
            return Err(bad("non-handshake record before the client hello ended"));
        }
    }
    // Record versions are SSL 3.0 (3.0) up to TLS 1.3's legacy value; TLS 1.3 still
    // writes 3.1 or 3.3 here.
    if let Some(&major) = rest.get(1) {
        if major != 3 {
            return Err(bad("record version is not 3.x"));
        }
    }
    if let Some(&minor) = rest.get(2) {
        if minor > 4 {
            return Err(bad("record version newer than 3.4"));
        }
    }
    Ok(())
}

/// The fewest bytes on the wire that can carry a handshake message of `len` bytes: the
/// message in full-size records, each with its header.
fn min_wire_len(len: usize) -> usize {
    len + len.div_ceil(MAX_RECORD_LEN) * RECORD_HEADER_LEN
}

/// The handshake message gathered from the records so far: borrowed while it sits in a
/// single record, copied once it spans several. It never holds more than the message's
/// declared length, which is itself below [`MAX_CLIENT_HELLO`].
#[derive(Default)]
struct Reassembly<'a> {
    bytes: Cow<'a, [u8]>,
}

impl<'a> Reassembly<'a> {
    fn push(&mut self, fragment: &'a [u8]) {
        if fragment.is_empty() {
            return;
        }
        if self.bytes.is_empty() {
            self.bytes = Cow::Borrowed(fragment);
        } else {
            self.bytes.to_mut().extend_from_slice(fragment);
        }
    }

    fn truncate(&mut self, len: usize) {
        if self.bytes.len() > len {
            match &mut self.bytes {
                Cow::Borrowed(b) => *b = &b[..len],
                Cow::Owned(v) => v.truncate(len),
            }
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

/// Parses a complete ClientHello body (the handshake message without its 4-byte header).
/// Every shortfall here is an inconsistency in the message, never a reason to wait.
fn parse_client_hello_body(body: &[u8]) -> Result<ClientHelloSni, SniError> {
    let mut r = Reader::new(body);
    let legacy_version = r.bytes(2, "client hello shorter than its version")?;
    if legacy_version[0] != 3 {
        return Err(SniError::Malformed("client version is not 3.x"));
    }
    r.bytes(32, "client hello shorter than its random")?;
    let session_id = r.vec_u8("session id longer than the client hello")?;
    if session_id.len() > 32 {
        return Err(SniError::Malformed("session id longer than 32 bytes"));
    }
    let cipher_suites = r.vec_u16("cipher suites longer than the client hello")?;
    if cipher_suites.is_empty() || cipher_suites.len() % 2 != 0 {
        return Err(SniError::Malformed(
            "cipher suites length is zero or not even",
        ));
    }
    let compression = r.vec_u8("compression methods longer than the client hello")?;
    if compression.is_empty() {
        return Err(SniError::Malformed("no compression methods"));
    }
    if r.is_empty() {
        // Extensions are optional (pre-TLS 1.2 style hello), so is SNI.
        return Ok(ClientHelloSni::NoSni);
    }
    let extensions = r.vec_u16("extensions longer than the client hello")?;
    if !r.is_empty() {
        return Err(SniError::Malformed("bytes after the extensions"));
    }

    let mut exts = Reader::new(extensions);
    let mut name = None;
    let mut seen_server_name = false;
    while !exts.is_empty() {
        let ext_type = exts.u16("truncated extension header")?;
        let ext_data = exts.vec_u16("extension longer than the extensions block")?;
        if ext_type == EXT_SERVER_NAME {
            if seen_server_name {
                return Err(SniError::Malformed("duplicate server_name extension"));
            }
            seen_server_name = true;
            name = parse_server_name(ext_data)?;
        }
    }
    Ok(match name {
        Some(name) => ClientHelloSni::Name(name),
        None => ClientHelloSni::NoSni,
    })
}

/// Parses the `server_name` extension's data; `None` when it names no `host_name`.
fn parse_server_name(data: &[u8]) -> Result<Option<String>, SniError> {
    let mut r = Reader::new(data);
    let list = r.vec_u16("server name list longer than its extension")?;
    if !r.is_empty() {
        return Err(SniError::Malformed("bytes after the server name list"));
    }
    if list.is_empty() {
        return Err(SniError::Malformed("empty server name list"));
    }
    let mut entries = Reader::new(list);
    let mut host_name: Option<&[u8]> = None;
    while !entries.is_empty() {
        let name_type = entries.u8("truncated server name entry")?;
        // Only host_name is defined; any other type is assumed to use the same
        // 16-bit-length encoding, as every implementation does.
        let name = entries.vec_u16("server name longer than its list")?;
        if name_type == NAME_TYPE_HOST_NAME {
            if host_name.is_some() {
                return Err(SniError::Malformed("more than one host_name"));
            }
            host_name = Some(name);
        }
    }
    let Some(name) = host_name else {
        return Ok(None);
    };
    if name.is_empty() {
        return Err(SniError::Malformed("empty host_name"));
    }
    if name.len() > MAX_HOST_NAME_LEN {
        return Err(SniError::Malformed("host_name longer than 255 bytes"));
    }
    if !name.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(SniError::Malformed(
            "host_name has bytes outside printable ascii",
        ));
    }
    Ok(Some(
        name.iter()
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect(),
    ))
}

/// A cursor over a byte slice whose reads fail with [`SniError::Malformed`] instead of
/// going out of bounds.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SniError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(SniError::Malformed(what))?;
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, SniError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, SniError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one-byte length prefix.
    fn vec_u8(&mut self, what: &'static str) -> Result<&'a [u8], SniError> {
        let len = self.u8(what)?;
        self.bytes(usize::from(len), what)
    }

    /// A vector with a two-byte length prefix.
    fn vec_u16(&mut self, what: &'static str) -> Result<&'a [u8], SniError> {
        let len = self.u16(what)?;
        self.bytes(usize::from(len), what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSSL_SNI: &[u8] = include_bytes!("../tests/vectors/client_hello_openssl_sni.bin");
    const OPENSSL_IP_NOSNI: &[u8] =
        include_bytes!("../tests/vectors/client_hello_openssl_ip_nosni.bin");
    const OPENSSL_TLS12_SNI: &[u8] =
        include_bytes!("../tests/vectors/client_hello_openssl_tls12_sni.bin");
    const RUSTLS_SNI: &[u8] = include_bytes!("../tests/vectors/client_hello_rustls_sni.bin");
    const RUSTLS_IP_NOSNI: &[u8] =
        include_bytes!("../tests/vectors/client_hello_rustls_ip_nosni.bin");
    const RUSTLS_FRAGMENTED: &[u8] =
        include_bytes!("../tests/vectors/client_hello_rustls_fragmented.bin");

    fn name(s: &str) -> Result<ClientHelloSni, SniError> {
        Ok(ClientHelloSni::Name(s.to_string()))
    }

    /// Every fixture with the answer it must give.
    fn fixtures() -> Vec<(
        &'static str,
        &'static [u8],
        Result<ClientHelloSni, SniError>,
    )> {
        vec![
            ("openssl sni", OPENSSL_SNI, name("tunnel.example.com")),
            ("openssl ip", OPENSSL_IP_NOSNI, Ok(ClientHelloSni::NoSni)),
            (
                "openssl tls1.2",
                OPENSSL_TLS12_SNI,
                name("legacy.example.org"),
            ),
            ("rustls sni", RUSTLS_SNI, name("edge.ferry-tunnel.example")),
            ("rustls ip", RUSTLS_IP_NOSNI, Ok(ClientHelloSni::NoSni)),
            (
                "rustls fragmented",
                RUSTLS_FRAGMENTED,
                name("fragmented.ferry.test"),
            ),
        ]
    }

    /// Splits a buffer of whole records into (content type, version, fragment).
    fn records(mut wire: &[u8]) -> Vec<(u8, [u8; 2], &[u8])> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let len = usize::from(u16::from_be_bytes([wire[3], wire[4]]));
            out.push((wire[0], [wire[1], wire[2]], &wire[5..5 + len]));
            wire = &wire[5 + len..];
        }
        out
    }

    /// The handshake message carried by a fixture's records.
    fn handshake_message(wire: &[u8]) -> Vec<u8> {
        records(wire)
            .into_iter()
            .flat_map(|(_, _, fragment)| fragment.iter().copied())
            .collect()
    }

    /// Wraps a handshake message into handshake records cut at the given sizes (the last
    /// record takes the rest).
    fn into_records(message: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = message;
        for &size in sizes.iter().chain(std::iter::once(&usize::MAX)) {
            if rest.is_empty() {
                break;
            }
            let (fragment, tail) = rest.split_at(size.min(rest.len()));
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
            out.extend_from_slice(fragment);
            rest = tail;
        }
        out
    }

    /// A hand-built ClientHello handshake message (header included).
    fn client_hello(session_id: &[u8], extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0xab; 32]);
        body.push(session_id.len() as u8);
        body.extend_from_slice(session_id);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[1, 0]);
        if let Some(ext) = extensions {
            body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            body.extend_from_slice(ext);
        }
        let len = body.len() as u32;
        let mut msg = vec![1];
        msg.extend_from_slice(&len.to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    fn extension(ext_type: u16, data: &[u8]) -> Vec<u8> {
        let mut out = ext_type.to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    /// `server_name` extension data with the given (name type, name) entries.
    fn server_name_data(entries: &[(u8, &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (name_type, name) in entries {
            list.push(*name_type);
            list.extend_from_slice(&(name.len() as u16).to_be_bytes());
            list.extend_from_slice(name);
        }
        let mut out = (list.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&list);
        out
    }

    /// A single-record ClientHello whose only extensions are the given ones.
    fn hello_with_extensions(exts: &[Vec<u8>]) -> Vec<u8> {
        into_records(&client_hello(&[7; 32], Some(&exts.concat())), &[])
    }

    fn hello_with_name(name: &[u8]) -> Vec<u8> {
        hello_with_extensions(&[extension(0, &server_name_data(&[(0, name)]))])
    }

    fn parse(buf: &[u8]) -> Result<ClientHelloSni, SniError> {
        parse_client_hello_sni(buf)
    }

    #[test]
    fn real_client_hellos() {
        for (what, wire, want) in fixtures() {
            assert_eq!(parse(wire), want, "{what}");
        }
    }

    #[test]
    fn fragmented_fixture_really_spans_several_records() {
        let recs = records(RUSTLS_FRAGMENTED);
        assert!(recs.len() >= 3, "{} records", recs.len());
        assert!(recs.iter().all(|(t, _, _)| *t == 22));
        // The fragment boundaries fall inside the hello, not at message boundaries.
        assert!(recs[0].2.len() < handshake_message(RUSTLS_FRAGMENTED).len());
    }

    #[test]
    fn every_prefix_of_a_real_hello_is_incomplete() {
        for (what, wire, _) in fixtures() {
            for n in 0..wire.len() {
                assert_eq!(
                    parse(&wire[..n]),
                    Ok(ClientHelloSni::Incomplete),
                    "{what}: first {n} of {} bytes",
                    wire.len()
                );
            }
        }
    }

    #[test]
    fn bytes_after_the_hello_are_ignored() {
        // What a TLS 1.3 client may send next: ChangeCipherSpec, then early data; or junk.
        let ccs = [20u8, 3, 3, 0, 1, 1];
        for (what, wire, want) in fixtures() {
            for tail in [&ccs[..], &[23, 3, 3, 0, 40, 1, 2, 3][..], &[0xff; 100][..]] {
                for n in 0..=tail.len() {
                    let mut buf = wire.to_vec();
                    buf.extend_from_slice(&tail[..n]);
                    assert_eq!(parse(&buf), want, "{what} + {n} bytes");
                }
            }
        }
    }

    #[test]
    fn hello_split_across_two_records_at_every_point() {
        for (what, wire, want) in fixtures() {
            let msg = handshake_message(wire);
            for cut in 1..msg.len() {
                let split = into_records(&msg, &[cut]);
                assert_eq!(records(&split).len(), 2);
                assert_eq!(parse(&split), want, "{what} cut at {cut}");
                // And each prefix of the two-record form waits for more.
                for n in [4, 5, 6, 9, cut + 4, cut + 5, cut + 6, split.len() - 1] {
                    if n < split.len() {
                        assert_eq!(
                            parse(&split[..n]),
                            Ok(ClientHelloSni::Incomplete),
                            "{what} cut at {cut}, first {n} bytes"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hello_in_one_byte_records() {
        for (what, wire, want) in fixtures() {
            let msg = handshake_message(wire);
            let tiny = into_records(&msg, &vec![1; msg.len()]);
            assert_eq!(records(&tiny).len(), msg.len());
            assert_eq!(parse(&tiny), want, "{what}");
            for n in (0..tiny.len()).step_by(7) {
                assert_eq!(
                    parse(&tiny[..n]),
                    Ok(ClientHelloSni::Incomplete),
                    "{what} {n}"
                );
            }
        }
    }

    #[test]
    fn record_carrying_the_end_of_the_hello_and_more_bytes() {
        // The last record holds the hello's tail followed by bytes that are not part of
        // it; the parser stops at the hello's declared length.
        let mut msg = handshake_message(OPENSSL_SNI);
        let len = msg.len();
        msg.extend_from_slice(&[0x42; 10]);
        let wire = into_records(&msg, &[100]);
        assert_eq!(parse(&wire), name("tunnel.example.com"));
        // Even before that last record has fully arrived.
        assert_eq!(
            parse(&wire[..5 + 100 + 5 + (len - 100)]),
            name("tunnel.example.com")
        );
        assert_eq!(
            parse(&wire[..5 + 100 + 5 + (len - 100) - 1]),
            Ok(ClientHelloSni::Incomplete)
        );
    }

    #[test]
    fn not_tls_from_the_first_byte() {
        assert_eq!(parse(b""), Ok(ClientHelloSni::Incomplete));
        assert_eq!(parse(b"G"), Err(SniError::NotTls));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            Err(SniError::NotTls)
        );
        assert_eq!(parse(b"PRI * HTTP/2.0\r\n"), Err(SniError::NotTls));
        assert_eq!(parse(b"SSH-2.0-OpenSSH_9.6\r\n"), Err(SniError::NotTls));
        // SSLv2-compatible ClientHello: no extensions, so no SNI, so not routable.
        assert_eq!(
            parse(&[0x80, 0x2e, 0x01, 0x00, 0x02]),
            Err(SniError::NotTls)
        );
        // Other TLS record types cannot start a connection.
        for content_type in [20u8, 21, 23, 24] {
            assert_eq!(parse(&[content_type]), Err(SniError::NotTls));
        }
        assert_eq!(parse(&[22]), Ok(ClientHelloSni::Incomplete));
        assert_eq!(parse(&[22, 3]), Ok(ClientHelloSni::Incomplete));
        assert_eq!(parse(&[22, 2]), Err(SniError::NotTls));
        assert_eq!(parse(&[22, 3, 5]), Err(SniError::NotTls));
        for minor in 0..=4 {
            assert_eq!(parse(&[22, 3, minor, 0]), Ok(ClientHelloSni::Incomplete));
        }
    }

    #[test]
    fn other_handshake_messages() {
        // ServerHello (2) as the first message: known as soon as its type byte arrives.
        assert_eq!(parse(&[22, 3, 3, 0, 50, 2]), Err(SniError::NotClientHello));
        assert_eq!(parse(&[22, 3, 3, 0, 50, 0]), Err(SniError::NotClientHello));
    }

    #[test]
    fn bad_records() {
        assert_eq!(
            parse(&[22, 3, 1, 0, 0, 1]),
            Err(SniError::Malformed("empty handshake record"))
        );
        assert_eq!(
            parse(&[22, 3, 1, 0x40, 0x01]),
            Err(SniError::Malformed("record longer than 2^14 bytes"))
        );
        // A record that is not a handshake record while the hello is unfinished.
        let msg = handshake_message(RUSTLS_SNI);
        let mut wire = into_records(&msg[..50], &[]);
        let second = wire.len();
        wire.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
        assert_eq!(parse(&wire[..second]), Ok(ClientHelloSni::Incomplete));
        assert!(matches!(
            parse(&wire[..second + 1]),
            Err(SniError::Malformed(_))
        ));
        // A later record with a nonsense version.
        let mut wire = into_records(&msg, &[50]);
        wire[5 + 50 + 1] = 0x7f;
        assert!(matches!(parse(&wire), Err(SniError::Malformed(_))));
        let mut wire = into_records(&msg, &[50]);
        wire[5 + 50 + 2] = 9;
        assert!(matches!(parse(&wire), Err(SniError::Malformed(_))));
    }

    #[test]
    fn hand_built_hellos() {
        assert_eq!(parse(&hello_with_name(b"Example.COM")), name("example.com"));
        assert_eq!(
            parse(&hello_with_name(b"xn--bcher-kva.example")),
            name("xn--bcher-kva.example")
        );
        // No extensions block at all (a TLS 1.0-style hello).
        let wire = into_records(&client_hello(&[], None), &[]);
        assert_eq!(parse(&wire), Ok(ClientHelloSni::NoSni));
        // An empty extensions block.
        assert_eq!(
            parse(&hello_with_extensions(&[])),
            Ok(ClientHelloSni::NoSni)
        );
        // Extensions, but none is server_name.
        let other = [extension(10, &[0, 2, 0, 29]), extension(43, &[2, 3, 4])];
        assert_eq!(
            parse(&hello_with_extensions(&other)),
            Ok(ClientHelloSni::NoSni)
        );
        // server_name found after other extensions, and other extensions after it.
        let exts = [
            other[0].clone(),
            extension(0, &server_name_data(&[(0, b"a.b")])),
            other[1].clone(),
        ];
        assert_eq!(parse(&hello_with_extensions(&exts)), name("a.b"));
        // A server_name extension whose only entry is not a host_name.
        let exts = [extension(0, &server_name_data(&[(7, b"whatever")]))];
        assert_eq!(
            parse(&hello_with_extensions(&exts)),
            Ok(ClientHelloSni::NoSni)
        );
        // ...and one that has an unknown entry before the host_name.
        let exts = [extension(
            0,
            &server_name_data(&[(7, b"x"), (0, b"b.example")]),
        )];
        assert_eq!(parse(&hello_with_extensions(&exts)), name("b.example"));
        // Longest accepted name.
        let long = vec![b'a'; 255];
        assert_eq!(parse(&hello_with_name(&long)), name(&"a".repeat(255)));
    }

    #[test]
    fn names_outside_printable_ascii() {
        for bad in [
            &b"a b.example"[..],
            b"nul\0.example",
            b"tab\t.example",
            b"del\x7f.example",
            "b\u{fc}cher.example".as_bytes(),
            b"\xff",
        ] {
            assert_eq!(
                parse(&hello_with_name(bad)),
                Err(SniError::Malformed(
                    "host_name has bytes outside printable ascii"
                )),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(&hello_with_name(b"")),
            Err(SniError::Malformed("empty host_name"))
        );
        assert_eq!(
            parse(&hello_with_name(&[b'a'; 256])),
            Err(SniError::Malformed("host_name longer than 255 bytes"))
        );
    }

    #[test]
    fn bad_server_name_extensions() {
        let sni = |data: &[u8]| parse(&hello_with_extensions(&[extension(0, data)]));
        assert!(matches!(sni(&[]), Err(SniError::Malformed(_))));
        assert!(matches!(sni(&[0]), Err(SniError::Malformed(_))));
        assert_eq!(
            sni(&[0, 0]),
            Err(SniError::Malformed("empty server name list"))
        );
        // List length past the extension.
        assert!(matches!(
            sni(&[0, 9, 0, 0, 1, b'a']),
            Err(SniError::Malformed(_))
        ));
        // List length short of the extension.
        assert!(matches!(
            sni(&[0, 4, 0, 0, 1, b'a', 0]),
            Err(SniError::Malformed(_))
        ));
        // Name length past the list.
        assert!(matches!(
            sni(&[0, 4, 0, 0, 9, b'a']),
            Err(SniError::Malformed(_))
        ));
        // Truncated entry header.
        assert!(matches!(sni(&[0, 2, 0, 0]), Err(SniError::Malformed(_))));
        // Two host_names.
        assert_eq!(
            sni(&server_name_data(&[(0, b"a.example"), (0, b"b.example")])),
            Err(SniError::Malformed("more than one host_name"))
        );
        // Two server_name extensions.
        let ext = extension(0, &server_name_data(&[(0, b"a.example")]));
        assert_eq!(
            parse(&hello_with_extensions(&[ext.clone(), ext])),
            Err(SniError::Malformed("duplicate server_name extension"))
        );
    }

    /// Offsets inside the openssl fixture's single record, found by walking the fields.
    struct Layout {
        session_id: usize,
        cipher_suites: usize,
        compression: usize,
        extensions: usize,
        sni_ext: usize,
    }

    fn layout(wire: &[u8]) -> Layout {
        let session_id = 5 + 4 + 2 + 32;
        let cipher_suites = session_id + 1 + usize::from(wire[session_id]);
        let suites_len = usize::from(u16::from_be_bytes([
            wire[cipher_suites],
            wire[cipher_suites + 1],
        ]));
        let compression = cipher_suites + 2 + suites_len;
        let extensions = compression + 1 + usize::from(wire[compression]);
        let mut pos = extensions + 2;
        loop {
            let ext_type = u16::from_be_bytes([wire[pos], wire[pos + 1]]);
            let len = usize::from(u16::from_be_bytes([wire[pos + 2], wire[pos + 3]]));
            if ext_type == 0 {
                break;
            }
            pos += 4 + len;
        }
        Layout {
            session_id,
            cipher_suites,
            compression,
            extensions,
            sni_ext: pos,
        }
    }

    #[test]
    fn truncated_and_overlong_length_fields() {
        let l = layout(OPENSSL_SNI);
        let patched = |at: usize, bytes: &[u8]| {
            let mut wire = OPENSSL_SNI.to_vec();
            wire[at..at + bytes.len()].copy_from_slice(bytes);
            parse(&wire)
        };
        let malformed =
            |r: Result<ClientHelloSni, SniError>| matches!(r, Err(SniError::Malformed(_)));

        assert_eq!(
            patched(l.session_id, &[33]),
            Err(SniError::Malformed("session id longer than 32 bytes"))
        );
        assert!(malformed(patched(l.session_id, &[0xff])));
        assert!(malformed(patched(l.cipher_suites, &[0xff, 0xff])));
        assert!(malformed(patched(l.cipher_suites, &[0, 0])));
        assert!(malformed(patched(l.cipher_suites, &[0, 1])));
        assert!(malformed(patched(l.compression, &[0])));
        assert!(malformed(patched(l.compression, &[0xff])));
        assert!(malformed(patched(l.extensions, &[0xff, 0xff])));
        assert!(malformed(patched(l.extensions, &[0, 1])));
        // server_name extension length past the extensions block.
        assert!(malformed(patched(l.sni_ext + 2, &[0xff, 0xff])));
        // server name list length.
        assert!(malformed(patched(l.sni_ext + 4, &[0xff, 0xff])));
        // host_name length.
        assert!(malformed(patched(l.sni_ext + 7, &[0xff, 0xff])));
        assert!(malformed(patched(l.sni_ext + 7, &[0x00, 0x01])));
        // Client version that is not 3.x.
        assert!(malformed(patched(9, &[2])));

        // A handshake length shorter than the body: the hello ends inside its fields.
        let msg = handshake_message(OPENSSL_SNI);
        for short in [0usize, 1, 2, 34, 35, 40, 100, msg.len() - 5] {
            let mut m = msg[..4 + short].to_vec();
            m[1..4].copy_from_slice(&(short as u32).to_be_bytes()[1..]);
            assert!(
                malformed(parse(&into_records(&m, &[]))),
                "body of {short} bytes"
            );
        }
        // A handshake length longer than what was sent: more records could still come.
        let mut m = msg.clone();
        m[1..4].copy_from_slice(&((msg.len() - 4 + 10) as u32).to_be_bytes()[1..]);
        assert_eq!(
            parse(&into_records(&m, &[])),
            Ok(ClientHelloSni::Incomplete)
        );
    }

    #[test]
    fn too_large() {
        // A declared length that cannot fit in the buffer bound, known from 9 bytes.
        assert_eq!(
            parse(&[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]),
            Err(SniError::TooLarge)
        );
        assert_eq!(
            parse(&[22, 3, 1, 0, 4, 1, 1, 0, 0]),
            Err(SniError::TooLarge)
        );

        // A hello that needs exactly MAX_CLIENT_HELLO bytes on the wire is accepted; one
        // byte more is not.
        let fits = |pad: usize| {
            let padding = extension(21, &vec![0; pad]);
            let sni = extension(0, &server_name_data(&[(0, b"big.example")]));
            let mut ext = sni;
            ext.extend_from_slice(&padding);
            let msg = client_hello(&[], Some(&ext));
            into_records(&msg, &[MAX_RECORD_LEN; 8])
        };
        let base = fits(0).len();
        // Each extra record header costs 5 bytes; solve for the padding that lands on MAX.
        let mut pad = MAX_CLIENT_HELLO - base - 3 * RECORD_HEADER_LEN;
        while fits(pad).len() < MAX_CLIENT_HELLO {
            pad += 1;
        }
        let exact = fits(pad);
        assert_eq!(exact.len(), MAX_CLIENT_HELLO);
        assert_eq!(parse(&exact), name("big.example"));
        assert_eq!(
            parse(&exact[..exact.len() - 1]),
            Ok(ClientHelloSni::Incomplete)
        );
        assert_eq!(parse(&fits(pad + 1)[..9]), Err(SniError::TooLarge));

        // A hello in tiny records that runs past the bound: TooLarge once the buffer is
        // full, never Incomplete.
        let msg = client_hello(&[], Some(&extension(21, &vec![0; 20_000])));
        let tiny = into_records(&msg, &vec![1; msg.len()]);
        assert!(tiny.len() > MAX_CLIENT_HELLO);
        assert_eq!(
            parse(&tiny[..MAX_CLIENT_HELLO - 1]),
            Ok(ClientHelloSni::Incomplete)
        );
        assert_eq!(parse(&tiny[..MAX_CLIENT_HELLO]), Err(SniError::TooLarge));
        assert_eq!(parse(&tiny), Err(SniError::TooLarge));
    }

    /// A small deterministic generator, so the garbage tests need no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Once an answer is given for a prefix, longer buffers give the same answer.
    fn assert_prefix_stable(buf: &[u8]) {
        let full = parse(buf);
        let mut decided = None;
        for n in 0..=buf.len() {
            let r = parse(&buf[..n]);
            if let Some(d) = &decided {
                assert_eq!(&r, d, "answer changed at {n} bytes");
            } else if r != Ok(ClientHelloSni::Incomplete) {
                decided = Some(r);
            }
        }
        if let Some(d) = decided {
            assert_eq!(full, d);
        }
    }

    #[test]
    fn garbage_never_panics_and_answers_are_stable() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let len = (rng.next() % 64) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Some(b) = buf.first_mut() {
                // Make most of them at least start like TLS.
                if !rng.next().is_multiple_of(4) {
                    *b = 22;
                }
            }
            if buf.len() > 2 && rng.next().is_multiple_of(2) {
                buf[1] = 3;
                buf[2] = (rng.next() % 5) as u8;
            }
            assert_prefix_stable(&buf);
        }
        // Real hellos with random bytes flipped.
        for (_, wire, _) in fixtures() {
            for _ in 0..300 {
                let mut buf = wire.to_vec();
                for _ in 0..=(rng.next() % 4) {
                    let at = (rng.next() as usize) % buf.len();
                    buf[at] = rng.next() as u8;
                }
                assert_prefix_stable(&buf);
            }
        }
    }

    #[test]
    fn error_messages_are_lower_case() {
        for e in [
            SniError::NotTls,
            SniError::NotClientHello,
            SniError::Malformed("empty host_name"),
            SniError::TooLarge,
        ] {
            let text = e.to_string();
            assert_eq!(text, text.to_lowercase(), "{text}");
        }
        assert_eq!(
            SniError::Malformed("empty host_name").to_string(),
            "malformed client hello: empty host_name"
        );
        assert!(SniError::TooLarge
            .to_string()
            .contains(&MAX_CLIENT_HELLO.to_string()));
    }
}
