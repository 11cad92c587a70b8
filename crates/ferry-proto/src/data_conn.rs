//! The hello of a data connection: a TLS connection a Ferry agent dials to its edge beside its
//! session, to carry one proxy stream at a time outside muxado (issue 17's separate connection
//! per stream). ngrok's agents never dial one; the edge offers a key only to Ferry's.
//!
//! A data connection starts, inside its TLS, with [`MAGIC`], a big-endian `u16` length and the
//! key the edge gave in `AuthResp.Extra.FerryDataKey`. The magic's first byte, `0xFF`, makes the
//! first 24 bits a muxado frame length above 16 MiB, which no muxado client sends, so the edge
//! tells a data connection from a session by its first eight bytes; anything else, even a
//! frame that starts with `0xFF`, goes to muxado, which refuses an oversized frame itself.

/// What a data connection sends first.
pub const MAGIC: [u8; 8] = *b"\xFFferryD1";

/// The longest key the edge hands out or reads back.
pub const MAX_KEY: usize = 256;

/// The bytes a data connection starts with.
pub fn hello(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + key.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// Why a hello was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The first eight bytes are not [`MAGIC`].
    #[error("not a data connection's hello")]
    Magic,
    /// The key's length is 0 or above [`MAX_KEY`].
    #[error("data connection key of {0} bytes (1 to 256 expected)")]
    KeyLength(usize),
    /// The key is not UTF-8.
    #[error("data connection key is not UTF-8")]
    KeyText,
}

/// The key of a complete hello at the start of `buf` and the hello's length, or `None` while
/// more bytes are needed.
pub fn parse_hello(buf: &[u8]) -> Result<Option<(&str, usize)>, HelloError> {
    let seen = buf.len().min(MAGIC.len());
    if buf[..seen] != MAGIC[..seen] {
        return Err(HelloError::Magic);
    }
    let Some(len) = buf.get(MAGIC.len()..MAGIC.len() + 2) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len == 0 || len > MAX_KEY {
        return Err(HelloError::KeyLength(len));
    }
    let end = MAGIC.len() + 2 + len;
    let Some(key) = buf.get(MAGIC.len() + 2..end) else {
        return Ok(None);
    };
    let key = std::str::from_utf8(key).map_err(|_| HelloError::KeyText)?;
    Ok(Some((key, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hello_reads_back_under_any_split() {
        let bytes = hello("ts_abc.secret");
        for cut in 0..bytes.len() {
            assert_eq!(parse_hello(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            parse_hello(&bytes),
            Ok(Some(("ts_abc.secret", bytes.len())))
        );
    }

    #[test]
    fn a_muxado_frame_is_not_a_hello() {
        // A SYN frame on stream 1 with a 4-byte body, as an agent's first frame starts.
        let syn = [0u8, 0, 4, 0x11, 0, 0, 0, 1];
        assert_eq!(parse_hello(&syn[..1]), Err(HelloError::Magic));
        // A frame longer than muxado allows is muxado's to refuse, not a hello.
        let oversized = [0xFFu8, 0xFF, 0xFF, 0x11, 0, 0, 0, 1];
        assert_eq!(parse_hello(&oversized[..2]), Err(HelloError::Magic));
    }

    #[test]
    fn a_key_out_of_bounds_is_refused() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&0u16.to_be_bytes());
        assert_eq!(parse_hello(&bytes), Err(HelloError::KeyLength(0)));
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&300u16.to_be_bytes());
        assert_eq!(parse_hello(&bytes), Err(HelloError::KeyLength(300)));
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&2u16.to_be_bytes());
        bytes.extend_from_slice(&[0xC3, 0x28]);
        assert_eq!(parse_hello(&bytes), Err(HelloError::KeyText));
    }
}
