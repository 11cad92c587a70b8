/// The u32 (big-endian) that opens every muxado stream in ngrok's protocol and says what it
/// carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamType(pub u32);

impl StreamType {
    pub const AUTH: Self = Self(0);
    pub const BIND: Self = Self(1);
    pub const UNBIND: Self = Self(2);
    /// Opened by the edge, one per public connection.
    pub const PROXY: Self = Self(3);
    pub const RESTART: Self = Self(4);
    pub const STOP: Self = Self(5);
    pub const UPDATE: Self = Self(6);
    pub const BIND_LABELED: Self = Self(7);
    /// Go SDK only.
    pub const SRV_INFO: Self = Self(8);
    pub const STOP_TUNNEL: Self = Self(9);
    pub const HEARTBEAT: Self = Self(0xFFFF_FFFF);

    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(b: [u8; 4]) -> Self {
        Self(u32::from_be_bytes(b))
    }
}
