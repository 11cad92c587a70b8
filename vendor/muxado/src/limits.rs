//! Bounds on what a peer can make this end of a session buffer.
//!
//! A server that accepts sessions from the internet meets peers that have not yet proved who
//! they are. Until they have, it wants small frames and small stream windows; once they
//! have, the usual ones. The limits are shared between the session's handles and its reader
//! and writer tasks, so the application can raise them while the session runs; streams keep
//! the window they were opened with.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{
            AtomicUsize,
            Ordering,
        },
    },
};

use crate::errors::Error;

#[derive(Debug)]
pub(crate) struct Limits {
    window: AtomicUsize,
    max_frame: AtomicUsize,
}

pub(crate) type SharedLimits = Arc<Limits>;

impl Limits {
    pub(crate) fn new(window: usize, max_frame: usize) -> SharedLimits {
        Arc::new(Limits {
            window: AtomicUsize::new(window),
            max_frame: AtomicUsize::new(max_frame),
        })
    }

    /// The receive window of streams opened from now on.
    pub(crate) fn window(&self) -> usize {
        self.window.load(Ordering::Relaxed)
    }

    /// The largest frame body the reader accepts before it ends the session.
    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, window: usize, max_frame: usize) {
        self.window.store(window, Ordering::Relaxed);
        self.max_frame.store(max_frame, Ordering::Relaxed);
    }
}

/// Why a session ended because the peer broke the protocol: the muxado error code sent in
/// the GOAWAY, and what the peer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolViolation {
    /// The code sent to the peer in the GOAWAY frame.
    pub code: Error,
    /// What the peer did, for logs.
    pub reason: String,
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolViolation {}
