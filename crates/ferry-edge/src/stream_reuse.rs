//! Proxy streams kept between the requests of one public connection. Opening a stream costs
//! a muxado SYN, a proxy header, an HTTP handshake at the agent and, behind it, a fresh
//! connection to the upstream; a keep-alive client that sends its next request on the same
//! connection reuses the stream its last request used instead. ngrok's agents read a proxy
//! stream as one client connection, so several requests in turn on it are what they expect.
//!
//! A kept stream holds one of its session's stream slots, so streams are kept only while the
//! session has slots to spare, only a few per connection, and only for a few seconds. One that
//! rides the session gives way once the agent has a data connection idle (`data_conn.rs`), as
//! in `http_relay.rs`: the connection's next request opens a stream there.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::registry::Tunnel;

/// Streams kept per public connection (HTTP/2 clients send requests side by side).
const MAX_IDLE: usize = 4;
/// How long an unused stream is kept.
pub const IDLE_FOR: Duration = Duration::from_secs(5);
/// Free slots a session must have left for a stream to be kept.
pub(crate) const SPARE_SLOTS: usize = 32;

#[derive(Default)]
pub struct StreamCache {
    idle: Mutex<Vec<Idle>>,
}

/// An HTTP/1.1 client connection to the agent over one proxy stream.
pub struct Sender {
    pub send: SendRequest<Incoming>,
    /// Whether its stream rides the session (muxado) rather than a data connection.
    pub on_session: bool,
}

struct Idle {
    tunnel: Arc<Tunnel>,
    sender: Sender,
    since: Instant,
}

impl Idle {
    /// Still open, and not about to give way to a data connection.
    fn usable(&self) -> bool {
        let moves = self.sender.on_session && self.tunnel.session.data.has_idle();
        !self.sender.send.is_closed() && !moves
    }
}

impl StreamCache {
    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kept stream to this very tunnel (the same bind on the same session) that is ready
    /// for a request now.
    pub fn take(&self, tunnel: &Arc<Tunnel>) -> Option<Sender> {
        let mut idle = self.lock();
        idle.retain(Idle::usable);
        let at = idle
            .iter()
            .position(|i| Arc::ptr_eq(&i.tunnel, tunnel) && i.sender.send.is_ready())?;
        Some(idle.swap_remove(at).sender)
    }

    /// Keeps `sender` for the connection's next request, if the session can spare the slot.
    pub fn put(&self, tunnel: Arc<Tunnel>, sender: Sender) {
        if tunnel.session.streams.available_permits() < SPARE_SLOTS || sender.send.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                tunnel,
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Drops streams unused for `IDLE_FOR`, giving their slots back.
    pub fn expire(&self) {
        self.lock()
            .retain(|i| i.since.elapsed() < IDLE_FOR && !i.sender.send.is_closed());
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}
