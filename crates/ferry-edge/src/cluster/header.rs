//! What travels between nodes, apart from the carried bytes themselves: each node-to-node
//! stream opens with a [`Request`], and the requests that want an answer get one [`Reply`].
//! Each is a two-byte length, then JSON, so a later field can be added without breaking a
//! node of the version before. Pure: the framing is tested and bounded here, the I/O is in
//! `mod.rs`.

use std::net::SocketAddr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The most a frame may take: a node reads no more before it knows what the stream is.
pub(crate) const MAX_FRAME: usize = 4096;

/// What a node asks of the node that holds an agent session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Request {
    /// A public connection for one of its tunnels; the client's bytes follow, from the
    /// first byte of its ClientHello. `client` is the public client's address as the
    /// accepting node's socket saw it: what `X-Forwarded-For` and the agent's proxy header
    /// say; `local` is the address it connected to, for a PROXY protocol header.
    Connection {
        client: SocketAddr,
        local: SocketAddr,
    },
    /// The REST API's restart, stop or update of one session; answered.
    Command { session: String, command: Command },
    /// The sessions of deleted authtokens or deactivated bot users, to close; answered with
    /// how many were.
    CloseSessionsOf { credentials: Vec<String> },
}

/// The agent commands one node asks another to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Command {
    Restart,
    Stop,
    Update,
}

/// The answer to a [`Request::Command`] or [`Request::CloseSessionsOf`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum Reply {
    /// The agent carried the command out.
    Done,
    /// How many sessions were closed.
    Closed { count: usize },
    /// The session is not (or no longer) on that node.
    NoSession,
    /// The agent does not take the command; `why` is its reason.
    Unsupported { why: String },
    /// The agent answered with an error.
    Refused { message: String },
    /// The agent did not answer, or the stream failed.
    Failed { message: String },
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length says more than [`MAX_FRAME`].
    #[error("a node-to-node frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLong(usize),
    /// The JSON does not parse as what was expected.
    #[error("a node-to-node frame does not parse: {0}")]
    Malformed(String),
}

/// `message`'s frame: its length, then its JSON.
pub(crate) fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let json = serde_json::to_vec(message).unwrap_or_default();
    let len = u16::try_from(json.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + json.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out
}

/// The length a frame's first two bytes announce, refused above [`MAX_FRAME`].
pub(crate) fn announced_len(prefix: [u8; 2]) -> Result<usize, FrameError> {
    let len = usize::from(u16::from_be_bytes(prefix));
    if len > MAX_FRAME {
        return Err(FrameError::TooLong(len));
    }
    Ok(len)
}

/// A frame's message from its JSON (the bytes after the length).
pub(crate) fn decode<T: DeserializeOwned>(json: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(json).map_err(|e| FrameError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(m: T) {
        let bytes = encode(&m);
        let len = announced_len([bytes[0], bytes[1]]).unwrap();
        assert_eq!(len, bytes.len() - 2);
        assert_eq!(decode::<T>(&bytes[2..]).unwrap(), m);
    }

    #[test]
    fn every_message_round_trips_and_a_long_frame_is_refused_by_its_length() {
        round_trip(Request::Connection {
            client: "[2001:db8::7]:4433".parse().unwrap(),
            local: "[2001:db8::1]:443".parse().unwrap(),
        });
        round_trip(Request::Command {
            session: "ts_1".into(),
            command: Command::Restart,
        });
        round_trip(Request::CloseSessionsOf {
            credentials: vec!["cr_1".into(), "cr_2".into()],
        });
        round_trip(Reply::Closed { count: 2 });
        round_trip(Reply::Unsupported { why: "old".into() });
        assert_eq!(
            announced_len(8192u16.to_be_bytes()),
            Err(FrameError::TooLong(8192))
        );
        assert!(matches!(
            decode::<Request>(br#"{"kind":"connection","client":"nowhere"}"#),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            decode::<Request>(br#"{"kind":"teleport"}"#),
            Err(FrameError::Malformed(_))
        ));
    }
}
