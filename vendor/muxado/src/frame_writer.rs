//! Writes frames to the transport without copying their payloads into a staging buffer.
//!
//! `tokio_util::codec::Framed` encodes every frame into one `BytesMut` and writes that: a
//! data frame's payload is copied once more before TLS copies it again into a record. Here
//! headers and small bodies are encoded into a scratch buffer, large payloads are queued as
//! the `Bytes` they already are, and a flush hands them all to the transport in one
//! vectored write (rustls encrypts straight from the slices).

use std::{
    collections::VecDeque,
    io::{
        self,
        IoSlice,
    },
    pin::Pin,
    task::{
        Context,
        Poll,
        ready,
    },
};

use bytes::{
    Buf,
    Bytes,
    BytesMut,
};
use futures::sink::Sink;
use tokio::io::AsyncWrite;

use crate::{
    codec::{
        encode_body,
        encode_header,
        validate_header,
    },
    frame::{
        Body,
        Frame,
    },
};

/// Buffered bytes beyond which `poll_ready` writes before taking another frame.
const HIGH_WATER: usize = 256 * 1024;
/// Slices per vectored write (below every platform's IOV_MAX).
const MAX_SLICES: usize = 64;
/// Payloads shorter than this are copied next to their header: one slice instead of two.
const COPY_BELOW: usize = 512;

pub struct FrameWriter<W> {
    io: W,
    chunks: VecDeque<Bytes>,
    buffered: usize,
    scratch: BytesMut,
}

impl<W> FrameWriter<W> {
    pub fn new(io: W) -> Self {
        FrameWriter {
            io,
            chunks: VecDeque::new(),
            buffered: 0,
            scratch: BytesMut::new(),
        }
    }

    /// Moves what was encoded into the scratch buffer to the queue.
    fn seal_scratch(&mut self) {
        if !self.scratch.is_empty() {
            let bytes = self.scratch.split().freeze();
            self.buffered += bytes.len();
            self.chunks.push_back(bytes);
        }
    }

    fn consume(&mut self, mut n: usize) {
        self.buffered -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes everything queued (without flushing the transport).
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.seal_scratch();
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(self.chunks.iter()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> Sink<Frame> for FrameWriter<W> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buffered + this.scratch.len() >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> io::Result<()> {
        let this = self.get_mut();
        validate_header(frame.header)?;
        encode_header(frame.header, &mut this.scratch);
        match frame.body {
            Body::Data(data) if data.len() >= COPY_BELOW => {
                this.seal_scratch();
                this.buffered += data.len();
                this.chunks.push_back(data);
            }
            body => encode_body(body, &mut this.scratch),
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod test {
    use futures::SinkExt;
    use tokio::io::AsyncReadExt;
    use tokio_util::codec::FramedRead;
    use futures::StreamExt;

    use super::*;
    use crate::{
        codec::FrameCodec,
        frame::StreamID,
    };

    /// Small and large payloads (more than `HIGH_WATER` in all) and window updates come out as
    /// the codec reads them, in order, through a transport that takes a few bytes at a time.
    #[tokio::test]
    async fn frames_round_trip_through_vectored_writes() {
        let (a, b) = tokio::io::duplex(100);
        let mut writer = FrameWriter::new(a);
        let frames: Vec<Frame> = (1..=40u32)
            .map(|i| {
                let len = (i as usize * 97) % 3000;
                Frame::from(Body::Data(Bytes::from(vec![i as u8; len]))).stream_id(StreamID::clamp(i))
            })
            // Past HIGH_WATER: `poll_ready` has to write before it takes more.
            .chain((41..=43u32).map(|i| {
                Frame::from(Body::Data(Bytes::from(vec![i as u8; 120 * 1024]))).stream_id(StreamID::clamp(i))
            }))
            .chain([Frame::from(Body::WndInc(crate::frame::WndInc::clamp(77))).stream_id(StreamID::clamp(3))])
            .collect();
        let expected = frames.clone();
        let send = tokio::spawn(async move {
            for f in frames {
                writer.feed(f).await.expect("feed");
            }
            writer.close().await.expect("close");
        });
        let mut reader = FramedRead::new(b, FrameCodec::default());
        let mut got = Vec::new();
        while let Some(f) = reader.next().await {
            got.push(f.expect("decode"));
        }
        send.await.expect("writer task");
        assert_eq!(got, expected);
        let mut rest = Vec::new();
        reader.into_inner().read_to_end(&mut rest).await.expect("read");
        assert!(rest.is_empty());
    }
}
