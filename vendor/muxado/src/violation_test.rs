//! A peer that breaks the protocol ends its session with a GOAWAY that says why, and never
//! panics a session task or makes it buffer more than its limits.

use std::time::Duration;

use bytes::{
    BufMut,
    BytesMut,
};
use tokio::io::{
    AsyncReadExt,
    AsyncWriteExt,
    DuplexStream,
};

use crate::{
    Accept,
    Error,
    MuxadoAccept,
    OpenClose,
    SessionBuilder,
    session::Session,
};

const RST: u8 = 0;
const DATA: u8 = 1;
const WNDINC: u8 = 2;
const GOAWAY: u8 = 3;
const FIN: u8 = 1;
const SYN: u8 = 2;

fn frame(typ: u8, flags: u8, stream: u32, body: &[u8]) -> Vec<u8> {
    raw_frame(typ, flags, stream, body.len() as u32, body)
}

/// A header that may lie about its length.
fn raw_frame(typ: u8, flags: u8, stream: u32, length: u32, body: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_u32((length << 8) | u32::from(typ << 4 | flags));
    b.put_u32(stream);
    b.put_slice(body);
    b.to_vec()
}

/// A server session over a pipe whose other end the test writes raw bytes to.
fn server(limits: Option<(usize, usize)>) -> (MuxadoAccept, crate::MuxadoOpen, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let mut b = SessionBuilder::new(ours).server();
    if let Some((window, max_frame)) = limits {
        b = b.window_size(window).max_frame_size(max_frame);
    }
    let (open, accept) = b.start().split();
    (accept, open, theirs)
}

/// Reads what the session sends until it closes the pipe, and returns the GOAWAY's code.
async fn goaway_code(peer: &mut DuplexStream) -> u32 {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), peer.read_to_end(&mut got))
        .await
        .expect("the session closes the connection")
        .expect("read");
    let mut rest = &got[..];
    while rest.len() >= 8 {
        let lf = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes"));
        let (len, typ) = ((lf >> 8) as usize, (lf as u8) >> 4);
        let body = &rest[8..8 + len];
        if typ == GOAWAY {
            return u32::from_be_bytes(body[4..8].try_into().expect("4 bytes"));
        }
        rest = &rest[8 + len..];
    }
    panic!("no GOAWAY in {got:?}");
}

async fn refused(bytes: Vec<u8>, code: Error, limits: Option<(usize, usize)>) {
    let (mut accept, _open, mut peer) = server(limits);
    peer.write_all(&bytes).await.expect("write");
    assert_eq!(goaway_code(&mut peer).await, code as u32);
    // Streams accepted before the violation may still be queued.
    while accept.accept().await.is_some() {}
    let v = accept.protocol_violation().expect("the violation is recorded");
    assert_eq!(v.code, code);
}

#[tokio::test]
async fn short_goaway_is_a_protocol_error() {
    refused(frame(GOAWAY, 0, 0, &[0, 0, 0]), Error::Protocol, None).await;
}

#[tokio::test]
async fn second_syn_for_a_live_stream_is_a_protocol_error() {
    let mut bytes = frame(DATA, SYN, 1, b"a");
    bytes.extend(frame(DATA, SYN, 1, b"b"));
    refused(bytes, Error::Protocol, None).await;
}

#[tokio::test]
async fn syn_with_this_ends_parity_is_a_protocol_error() {
    refused(frame(DATA, SYN, 2, b"a"), Error::Protocol, None).await;
}

#[tokio::test]
async fn malformed_lengths_and_stream_zero_data_are_protocol_errors() {
    refused(frame(WNDINC, 0, 1, &[0; 9]), Error::Protocol, None).await;
    refused(frame(RST, 0, 1, &[]), Error::Protocol, None).await;
    refused(frame(DATA, 0, 0, b"x"), Error::Protocol, None).await;
    refused(frame(9, 0, 1, b""), Error::Protocol, None).await;
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_before_its_body_arrives() {
    // Only the header is sent: the session must not wait for 16 MiB to decide.
    refused(
        raw_frame(DATA, SYN, 1, 0xFF_FFFF, b""),
        Error::FrameSizeError,
        Some((16 * 1024, 16 * 1024)),
    )
    .await;
}

#[tokio::test]
async fn data_beyond_a_small_window_resets_the_stream() {
    let (mut accept, _open, mut peer) = server(Some((1024, 4096)));
    peer.write_all(&frame(DATA, SYN, 1, &[7; 1024])).await.expect("write");
    peer.write_all(&frame(DATA, 0, 1, &[7; 100])).await.expect("write");
    let _stream = accept.accept().await.expect("stream");
    let mut got = [0u8; 16];
    peer.read_exact(&mut got[..8]).await.expect("read");
    let lf = u32::from_be_bytes(got[..4].try_into().expect("4 bytes"));
    assert_eq!((lf as u8) >> 4, RST, "the stream is reset");
    peer.read_exact(&mut got[8..12]).await.expect("read");
    assert_eq!(
        u32::from_be_bytes(got[8..12].try_into().expect("4 bytes")),
        Error::FlowControl as u32
    );
}

#[tokio::test]
async fn raised_limits_apply_to_new_streams() {
    let (mut accept, open, mut peer) = server(Some((1024, 1024)));
    open.set_limits(64 * 1024, 64 * 1024);
    peer.write_all(&frame(DATA, SYN | FIN, 1, &[1; 32 * 1024]))
        .await
        .expect("write");
    let mut stream = accept.accept().await.expect("stream");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.expect("read");
    assert_eq!(got.len(), 32 * 1024);
}

#[tokio::test]
async fn streams_over_the_limit_are_refused_and_the_session_lives() {
    let (ours, mut peer) = tokio::io::duplex(1 << 20);
    let (mut open, mut accept) = SessionBuilder::new(ours).server().stream_limit(1).start().split();
    peer.write_all(&frame(DATA, SYN, 1, b"a")).await.expect("write");
    peer.write_all(&frame(DATA, SYN, 3, b"b")).await.expect("write");
    let _first = accept.accept().await.expect("first stream");
    let mut got = [0u8; 12];
    peer.read_exact(&mut got).await.expect("read");
    let lf = u32::from_be_bytes(got[..4].try_into().expect("4 bytes"));
    assert_eq!((lf as u8) >> 4, RST);
    assert_eq!(u32::from_be_bytes(got[4..8].try_into().expect("4 bytes")), 3);
    assert_eq!(
        u32::from_be_bytes(got[8..12].try_into().expect("4 bytes")),
        Error::StreamRefused as u32
    );
    assert!(open.close(Error::None, String::new()).await.is_ok());
}
