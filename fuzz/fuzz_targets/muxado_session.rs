//! The vendored muxado (vendor/muxado) as the edge runs it: a server session reading frames
//! from an untrusted agent. Whatever bytes arrive, the session's tasks must not panic; a
//! panic there kills the reader or writer task, tokio swallows it, and every stream of that
//! agent hangs. Each input is one session over an in-memory pipe: the input's frames are
//! written by the "agent", the server accepts and reads (or echoes, or drops) the streams it
//! is offered, optionally opens one of its own or closes the session, and gets 500 ms of
//! (paused, so free) tokio time to settle.
//!
//! Input: byte 0 holds the knobs below; the rest is either the wire bytes themselves (bit 7
//! clear), so seeds are plain frames, or (bit 7 set) a list of frames decoded with
//! `arbitrary` and encoded here, so the fuzzer can reach deep states with well-framed input.
#![no_main]

use std::sync::Once;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use muxado::{Accept, Error, OpenClose, Session, SessionBuilder, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The agent half-closes its end after writing (else it keeps it open).
const HALF_CLOSE: u8 = 1 << 0;
/// The server opens a stream of its own, writes to it and reads its answer.
const SERVER_OPENS: u8 = 1 << 1;
/// Bits 2-3: what the server does with an accepted stream (see `Behaviour`).
const BEHAVIOUR_SHIFT: u8 = 2;
/// Each accepted stream gets the next behaviour instead of the same one.
const ROTATE: u8 = 1 << 4;
/// A 64-byte window, 4 streams at most and an accept queue of 2, so the flow-control and
/// limit paths are reached with short inputs.
const SMALL_LIMITS: u8 = 1 << 5;
/// The server sends GOAWAY once the agent's bytes are written.
const SERVER_CLOSES: u8 = 1 << 6;
/// The rest of the input is a list of `Piece`s rather than wire bytes.
const STRUCTURED: u8 = 1 << 7;

/// Tokio time one input may take (the clock is paused, so only the work costs real time).
const SETTLE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Read to the end, then drop.
    Read,
    /// Write back what arrives; shut down at the end.
    Echo,
    /// Drop at once (the stream's channel closes under the session).
    Drop,
    /// Write 1 KiB first (more than a small window), shut down, then read to the end.
    WriteFirst,
}

impl Behaviour {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Behaviour::Read,
            1 => Behaviour::Echo,
            2 => Behaviour::Drop,
            _ => Behaviour::WriteFirst,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum StreamId {
    /// 0 to 15: ids collide often.
    Small(u8),
    /// Any 32 bits (the top bit is masked by the codec).
    Any(u32),
}

impl StreamId {
    fn get(&self) -> u32 {
        match self {
            StreamId::Small(n) => u32::from(*n % 16),
            StreamId::Any(n) => *n,
        }
    }
}

/// One unit of structured input.
#[derive(Arbitrary, Debug)]
enum Piece {
    Data {
        stream: StreamId,
        syn: bool,
        fin: bool,
        body: Vec<u8>,
    },
    Rst {
        stream: StreamId,
        code: u32,
    },
    WndInc {
        stream: StreamId,
        inc: u32,
    },
    GoAway {
        last_stream: u32,
        code: u32,
        message: Vec<u8>,
    },
    /// Any type and flags, with a length that may disagree with the body.
    Other {
        typ: u8,
        flags: u8,
        stream: StreamId,
        length: Option<u32>,
        body: Vec<u8>,
    },
    Raw(Vec<u8>),
}

const TYPE_RST: u8 = 0;
const TYPE_DATA: u8 = 1;
const TYPE_WNDINC: u8 = 2;
const TYPE_GOAWAY: u8 = 3;
const FLAG_FIN: u8 = 1;
const FLAG_SYN: u8 = 2;

/// Header: u32 `(length << 8) | (type << 4) | flags`, then the u32 stream id; then the body.
fn put_frame(out: &mut Vec<u8>, typ: u8, flags: u8, stream: u32, length: u32, body: &[u8]) {
    let word = ((length & 0x00FF_FFFF) << 8) | (u32::from(typ & 0xF) << 4) | u32::from(flags & 0xF);
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(body);
}

fn encode(pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Data {
                stream,
                syn,
                fin,
                body,
            } => {
                let flags = if *syn { FLAG_SYN } else { 0 } | if *fin { FLAG_FIN } else { 0 };
                put_frame(
                    &mut out,
                    TYPE_DATA,
                    flags,
                    stream.get(),
                    body.len() as u32,
                    body,
                );
            }
            Piece::Rst { stream, code } => {
                put_frame(&mut out, TYPE_RST, 0, stream.get(), 4, &code.to_be_bytes());
            }
            Piece::WndInc { stream, inc } => {
                put_frame(
                    &mut out,
                    TYPE_WNDINC,
                    0,
                    stream.get(),
                    4,
                    &inc.to_be_bytes(),
                );
            }
            Piece::GoAway {
                last_stream,
                code,
                message,
            } => {
                let mut body = last_stream.to_be_bytes().to_vec();
                body.extend_from_slice(&code.to_be_bytes());
                body.extend_from_slice(message);
                put_frame(&mut out, TYPE_GOAWAY, 0, 0, body.len() as u32, &body);
            }
            Piece::Other {
                typ,
                flags,
                stream,
                length,
                body,
            } => {
                let length = length.unwrap_or(body.len() as u32);
                put_frame(&mut out, *typ, *flags, stream.get(), length, body);
            }
            Piece::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    abort_on_any_panic();
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let wire = if knobs & STRUCTURED != 0 {
        match Vec::<Piece>::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(pieces) => encode(&pieces),
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    rt.block_on(session(knobs, wire));
    // Dropping the runtime drops every task still parked (streams, the session's reader and
    // writer): their Drop code runs here, under the same hook.
    drop(rt);
});

/// muxado runs its reader and writer with `tokio::spawn`, and tokio catches a panic in a
/// task, so a panic there would pass unseen unless the panic hook aborts. libfuzzer-sys
/// installs such a hook at start-up today; this target depends on it, so it sets its own
/// rather than rely on that. Any panic, in any task, aborts, which libFuzzer records as a
/// crash with the panic message on stderr.
fn abort_on_any_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            std::process::abort();
        }));
    });
}

async fn session(knobs: u8, wire: Vec<u8>) {
    let (server_io, agent_io) = tokio::io::duplex(16 * 1024);
    let mut builder = SessionBuilder::new(server_io).server();
    if knobs & SMALL_LIMITS != 0 {
        builder = builder.window_size(64).stream_limit(4).accept_queue_size(2);
    }
    let (mut open, mut accept) = builder.start().split();

    let (mut agent_rx, mut agent_tx) = tokio::io::split(agent_io);
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = agent_tx.write_all(&wire).await;
        let _ = written_tx.send(());
        if knobs & HALF_CLOSE != 0 {
            let _ = agent_tx.shutdown().await;
        } else {
            // Hold the write end open until the runtime is dropped.
            std::future::pending::<()>().await;
        }
    });
    // Whatever the server sends the agent is read and dropped, so the server never blocks on
    // a full pipe.
    tokio::spawn(async move {
        let mut sink = [0u8; 4096];
        while let Ok(n) = agent_rx.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });

    let first = knobs >> BEHAVIOUR_SHIFT;
    let rotate = knobs & ROTATE != 0;
    tokio::spawn(async move {
        let mut n: u8 = 0;
        while let Some(stream) = accept.accept().await {
            let behaviour =
                Behaviour::from_bits(if rotate { first.wrapping_add(n) } else { first });
            n = n.wrapping_add(1);
            tokio::spawn(serve(stream, behaviour));
        }
    });

    if knobs & SERVER_OPENS != 0 {
        let mut opener = open.clone();
        tokio::spawn(async move {
            if let Ok(mut stream) = opener.open().await {
                let _ = stream.write_all(b"hello from the edge").await;
                let _ = stream.shutdown().await;
                read_to_end(&mut stream).await;
            }
        });
    }

    let settle = async {
        if knobs & SERVER_CLOSES != 0 && written_rx.await.is_ok() {
            let _ = open.close(Error::None, "fuzz: done".into()).await;
        }
        tokio::time::sleep(SETTLE).await;
    };
    // The session and its streams may wait on each other forever (a stream nobody finishes);
    // the paused clock jumps to the deadline as soon as every task is parked.
    let _ = tokio::time::timeout(SETTLE * 2, settle).await;
    drop(open);
}

async fn serve(mut stream: Stream, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Read => read_to_end(&mut stream).await,
        Behaviour::Echo => {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = stream.shutdown().await;
        }
        Behaviour::Drop => drop(stream),
        Behaviour::WriteFirst => {
            let _ = stream.write_all(&[0x5a; 1024]).await;
            let _ = stream.shutdown().await;
            read_to_end(&mut stream).await;
        }
    }
}

async fn read_to_end(stream: &mut Stream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
