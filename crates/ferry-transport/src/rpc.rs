use std::time::Duration;

use ferry_proto::msg::reply_error;
use ferry_proto::{decode_json_prefix, DecodeError, Decoded, StreamType, MAX_RPC_SIZE};
use muxado::{MuxadoOpen, OpenClose, Stream};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why one RPC exchange failed. Only [`RpcError::Remote`] is the peer's considered answer;
/// the rest mean the peer is gone, slow or broken, and the caller usually ends the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// No stream could be opened for the call: the session has ended (the peer left, a
    /// heartbeat was missed, or the kill switch fired).
    #[error("the session is closed")]
    SessionClosed,
    /// Reading or writing the stream failed: usually the connection broke mid-exchange.
    #[error("stream i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed its side mid-message: it crashed, or refused the request by hanging up.
    #[error("the peer closed the stream before a whole message arrived")]
    Truncated,
    /// No whole message within the caller's timeout, which it carries: the peer may still
    /// be connected (heartbeats are separate) but did not answer this call.
    #[error("no message within {0:?}")]
    Timeout(Duration),
    /// The message outgrew the caller's bound in bytes, which it carries (16 KiB for an
    /// unauthenticated agent's Auth): refused before buffering more.
    #[error("the message is longer than {0} bytes")]
    TooLarge(usize),
    /// What arrived is not a JSON message of at most 256 KiB: the peer speaks another
    /// protocol, or has a bug.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer answered with `{"Error": ...}`.
    #[error("{0}")]
    Remote(String),
}

/// Reads the 4-byte stream type that starts every typed stream.
pub async fn read_type<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<StreamType> {
    let mut b = [0u8; 4];
    s.read_exact(&mut b).await?;
    Ok(StreamType::from_bytes(b))
}

/// Reads one JSON value without waiting for FIN (ngrok's agents never half-close).
pub async fn read_json<S: AsyncRead + Unpin>(
    s: &mut S,
    timeout: Duration,
) -> Result<Value, RpcError> {
    read_json_limited(s, timeout, MAX_RPC_SIZE).await
}

/// [`read_json`] for a message that must fit in `max` bytes: what an unauthenticated peer
/// sends is held to the size of the message it may send.
pub async fn read_json_limited<S: AsyncRead + Unpin>(
    s: &mut S,
    timeout: Duration,
    max: usize,
) -> Result<Value, RpcError> {
    let read = async {
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 4096];
        loop {
            if let Decoded::Value(v, _) = decode_json_prefix(&buf)? {
                return Ok(v);
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(RpcError::Truncated);
            }
            if buf.len() + n > max {
                return Err(RpcError::TooLarge(max));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| RpcError::Timeout(timeout))?
}

/// Writes one JSON reply and FINs the stream, which ngrok's Rust client waits for.
pub async fn write_and_finish<S: AsyncWrite + Unpin, T: Serialize>(
    s: &mut S,
    msg: &T,
) -> Result<(), RpcError> {
    let bytes = serde_json::to_vec(msg).map_err(|e| DecodeError::Shape(e.to_string()))?;
    s.write_all(&bytes).await?;
    s.shutdown().await?;
    Ok(())
}

/// Opens a typed stream: the type and the first payload go out together in one frame.
pub async fn open_typed(
    open: &MuxadoOpen,
    typ: StreamType,
    first: &[u8],
) -> Result<Stream, RpcError> {
    let mut stream = open
        .clone()
        .open()
        .await
        .map_err(|_| RpcError::SessionClosed)?;
    let mut head = Vec::with_capacity(4 + first.len());
    head.extend_from_slice(&typ.to_bytes());
    head.extend_from_slice(first);
    stream.write_all(&head).await?;
    Ok(stream)
}

/// One request and its reply on a fresh stream. A reply carrying `Error` becomes
/// [`RpcError::Remote`].
pub async fn call<T: Serialize>(
    open: &MuxadoOpen,
    typ: StreamType,
    req: &T,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let body = serde_json::to_vec(req).map_err(|e| DecodeError::Shape(e.to_string()))?;
    let mut stream = open_typed(open, typ, &body).await?;
    let reply = read_json(&mut stream, timeout).await?;
    if let Some(err) = reply_error(&reply) {
        return Err(RpcError::Remote(err));
    }
    Ok(reply)
}
