/// The u32 (big-endian) that opens every muxado stream in ngrok's protocol and says what it
/// carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamType(pub u32);

impl StreamType {
    /// Agent to edge: [`Auth`](crate::msg::Auth), answered with
    /// [`AuthResp`](crate::msg::AuthResp). The edge refuses other RPCs until it succeeds.
    pub const AUTH: Self = Self(0);
    /// Agent to edge: [`Bind`](crate::msg::Bind), answered with
    /// [`BindResp`](crate::msg::BindResp); one per tunnel, and again after each reconnect.
    pub const BIND: Self = Self(1);
    /// Agent to edge: [`Unbind`](crate::msg::Unbind) when a tunnel closes, answered with `{}`.
    pub const UNBIND: Self = Self(2);
    /// Opened by the edge, one per public connection.
    pub const PROXY: Self = Self(3);
    /// Edge to agent: restart the agent process, answered with
    /// [`CommandResp`](crate::msg::CommandResp); from the REST API's `tunnel_sessions` actions.
    pub const RESTART: Self = Self(4);
    /// Edge to agent: stop the agent, answered with [`CommandResp`](crate::msg::CommandResp).
    pub const STOP: Self = Self(5);
    /// Edge to agent: update the agent binary, answered with
    /// [`CommandResp`](crate::msg::CommandResp).
    pub const UPDATE: Self = Self(6);
    /// Agent to edge: a labeled tunnel (`StartTunnelWithLabel`), which Ferry refuses.
    pub const BIND_LABELED: Self = Self(7);
    /// Go SDK only.
    pub const SRV_INFO: Self = Self(8);
    /// Edge to agent: [`StopTunnel`](crate::msg::StopTunnel) closes one tunnel; the agent
    /// FINs without a reply.
    pub const STOP_TUNNEL: Self = Self(9);
    /// Either side: 4 random bytes, echoed back. ngrok's agents open it before Auth.
    pub const HEARTBEAT: Self = Self(0xFFFF_FFFF);
    /// Edge to a Ferry agent (never to ngrok's, which do not know it): this node is
    /// draining. The agent opens a session to its next `server_addr` and binds its tunnels
    /// there, and keeps serving this session's streams until the edge closes it. No reply.
    /// Outside ngrok's numbering, so that no ngrok stream type can ever collide with it.
    pub const MOVE: Self = Self(0x4645_0001);

    /// The 4 bytes the opener writes first, big-endian.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// Any 4 bytes decode: an unknown type is for the acceptor to ignore, as ngrok's agents
    /// do (they FIN the stream and keep the session).
    pub fn from_bytes(b: [u8; 4]) -> Self {
        Self(u32::from_be_bytes(b))
    }
}
