//! One agent session over one TLS connection, shared by the edge and the agent: muxado typed
//! streams, the JSON RPC exchange on top of them, heartbeats, and a switch that tears the
//! connection down at once when either side decides the peer is gone.
#![warn(missing_docs)]

mod heartbeat;
mod kill;
mod rpc;
mod session_io;
mod splice;

pub use heartbeat::{beat_until_dead, echo_beats, BeatClock};
pub use kill::{KillSwitch, Killable};
pub use rpc::{
    call, open_typed, read_json, read_json_limited, read_type, write_and_finish, RpcError,
};
pub use session_io::{session_io, AGENT_READ_BUFFER, EDGE_READ_BUFFER};
pub use splice::{splice, splice_watched, Spliced, Watch};

pub use muxado::Error as MuxadoError;
pub use muxado::{
    Accept, MuxadoAccept, MuxadoOpen, OpenClose, ProtocolViolation, Session, SessionBuilder, Stream,
};
