//! The byte stream under a session's TLS. rustls reads at most 4 KiB from its transport per
//! call, so a session moving gigabits makes a read system call for every 4 KiB. A buffer
//! below TLS turns those into one call per buffer for one memory copy. It is one buffer per
//! session, not per proxied connection, so memory per connection is unchanged.

use tokio::io::{AsyncRead, AsyncWrite, BufReader};

/// An edge holds one session per agent, thousands of them: 64 KiB each.
pub const EDGE_READ_BUFFER: usize = 64 * 1024;

/// An agent holds one session, whose reader is one of the serial stages every byte of a
/// stream from the edge passes: at 256 KiB instead of 64 one stream through Ferry went from
/// 6.1 to 7.3 Gbit/s (BENCHMARKS.md, issue 17).
pub const AGENT_READ_BUFFER: usize = 256 * 1024;

/// Wraps a session's transport (TCP) before the TLS handshake, with a read buffer of
/// `capacity` bytes.
pub fn session_io<T: AsyncRead + AsyncWrite>(io: T, capacity: usize) -> BufReader<T> {
    BufReader::with_capacity(capacity, io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_and_writes_pass_through() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut a = session_io(a, EDGE_READ_BUFFER);
        let mut b = session_io(b, AGENT_READ_BUFFER);
        a.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").await.unwrap();
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }
}
