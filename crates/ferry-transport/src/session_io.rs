//! The byte stream under a session's TLS. rustls reads at most 4 KiB from its transport per
//! call, so a session moving gigabits makes a read system call for every 4 KiB. A 64 KiB
//! buffer below TLS turns those into one call per 64 KiB for one memory copy. It is one
//! buffer per agent session, not per proxied connection, so memory per connection is
//! unchanged.

use tokio::io::{AsyncRead, AsyncWrite, BufReader};

const SESSION_READ_BUFFER: usize = 64 * 1024;

/// Wraps an agent session's transport (TCP) before the TLS handshake.
pub fn session_io<T: AsyncRead + AsyncWrite>(io: T) -> BufReader<T> {
    BufReader::with_capacity(SESSION_READ_BUFFER, io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_and_writes_pass_through() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut a = session_io(a);
        let mut b = session_io(b);
        a.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").await.unwrap();
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }
}
