#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[macro_use]
mod constrained;

mod codec;
mod errors;
mod frame;
mod frame_writer;
mod limits;
mod session;
mod stream;
mod stream_manager;
mod stream_output;
pub mod typed;
mod window;

pub use errors::Error;
pub use limits::ProtocolViolation;
pub use session::*;
pub use stream::Stream;

pub mod heartbeat;

#[cfg(test)]
mod cancellation_test;
#[cfg(test)]
mod violation_test;
