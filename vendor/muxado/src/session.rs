use std::{
    io,
    sync::{
        Arc,
        OnceLock,
        atomic::{
            AtomicBool,
            Ordering,
        },
    },
    time::Duration,
};

use async_trait::async_trait;
use futures::{
    SinkExt,
    channel::{
        mpsc,
        oneshot,
    },
    prelude::*,
    select,
    stream::StreamExt,
};
use tokio::io::{
    AsyncRead,
    AsyncWrite,
};
use tokio_util::codec::FramedRead;
use tracing::{
    Instrument,
    debug,
    debug_span,
    instrument,
    trace,
};

use crate::{
    codec::FrameCodec,
    errors::{
        Error,
        InvalidHeader,
    },
    limits::{
        Limits,
        ProtocolViolation,
        SharedLimits,
    },
    frame_writer::FrameWriter,
    frame::{
        Body,
        Frame,
        Header,
        HeaderType,
        StreamID,
    },
    stream::Stream,
    stream_manager::{
        OpenReq,
        SharedStreamManager,
        StreamManager,
    },
};

const DEFAULT_WINDOW: usize = 0x40000; // 256KB
const DEFAULT_ACCEPT: usize = 64;
const DEFAULT_STREAMS: usize = 512;

/// Builder for a muxado session.
///
/// Should probably leave this alone unless you're sure you know what you're
/// doing.
pub struct SessionBuilder<S> {
    io_stream: S,
    window: usize,
    max_frame: Option<usize>,
    accept_queue_size: usize,
    stream_limit: usize,
    client: bool,
}

impl<S> SessionBuilder<S>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    /// Start building a new muxado session using the provided IO stream.
    pub fn new(io_stream: S) -> Self {
        SessionBuilder {
            io_stream,
            window: DEFAULT_WINDOW,
            max_frame: None,
            accept_queue_size: DEFAULT_ACCEPT,
            stream_limit: DEFAULT_STREAMS,
            client: true,
        }
    }

    /// Set the stream window size.
    /// Defaults to 256kb.
    pub fn window_size(mut self, size: usize) -> Self {
        self.window = size;
        self
    }

    /// Set the largest frame body the peer may send; a longer one ends the session with a
    /// GOAWAY (`FrameSizeError`) before its body is buffered. Defaults to the larger of
    /// the window and 64 KiB: a data frame longer than the window breaks flow control
    /// anyway.
    pub fn max_frame_size(mut self, size: usize) -> Self {
        self.max_frame = Some(size);
        self
    }

    /// Set the accept queue size.
    /// This is the size of the channel that will hold "open stream" requests
    /// from the remote. If [Accept::accept] isn't called and the
    /// channel fills up, the session will block.
    /// Defaults to 64.
    pub fn accept_queue_size(mut self, size: usize) -> Self {
        self.accept_queue_size = size;
        self
    }

    /// Set the maximum number of streams allowed at a given time.
    /// If this limit is reached, new streams will be refused.
    /// Defaults to 512.
    pub fn stream_limit(mut self, count: usize) -> Self {
        self.stream_limit = count;
        self
    }

    /// Set this session to act as a client.
    pub fn client(mut self) -> Self {
        self.client = true;
        self
    }

    /// Set this session to act as a server.
    pub fn server(mut self) -> Self {
        self.client = false;
        self
    }

    /// Start a muxado session with the current options.
    pub fn start(self) -> MuxadoSession {
        let SessionBuilder {
            io_stream,
            window,
            max_frame,
            accept_queue_size,
            stream_limit,
            client,
        } = self;
        let limits = Limits::new(window, max_frame.unwrap_or(window.max(MIN_MAX_FRAME)));
        let violation: Arc<OnceLock<ProtocolViolation>> = Arc::default();
        let (writer_done_tx, writer_done_rx) = oneshot::channel::<()>();

        let (accept_tx, accept_rx) = mpsc::channel(accept_queue_size);
        let (open_tx, open_rx) = mpsc::channel(512);

        let manager = StreamManager::new(stream_limit, client);
        let sys_tx = manager.sys_sender();
        let (m1, m2) = manager.split();

        let (read_half, write_half) = tokio::io::split(io_stream);
        let io_rx = FramedRead::with_capacity(
            read_half,
            FrameCodec::with_limits(limits.clone()),
            READ_CAPACITY,
        );
        let io_tx = FrameWriter::new(write_half);

        let read_task = Reader {
            io: io_rx,
            accept_tx,
            limits: limits.clone(),
            manager: m1,
            last_stream_processed: StreamID::clamp(0),
            sys_tx: sys_tx.clone(),
            violation: violation.clone(),
            writer_done: writer_done_rx,
        };

        let write_task = Writer {
            limits: limits.clone(),
            io: io_tx,
            manager: m2,
            open_reqs: open_rx,
            _done: writer_done_tx,
        };

        let (dropref, waiter) = awaitdrop::awaitdrop();

        tokio::spawn(
            futures::future::select(
                async move {
                    let result = read_task.run().await;
                    debug!(?result, "read_task exited");
                }
                .boxed(),
                waiter.wait(),
            )
            .instrument(debug_span!("read_task")),
        );
        tokio::spawn(
            futures::future::select(
                async move {
                    let result = write_task.run().await;
                    debug!(?result, "write_task exited");
                }
                .boxed(),
                waiter.wait(),
            )
            .instrument(debug_span!("write_task")),
        );

        MuxadoSession {
            incoming: MuxadoAccept(dropref.clone(), accept_rx, violation.clone()),
            outgoing: MuxadoOpen {
                dropref,
                open_tx,
                sys_tx,
                closed: AtomicBool::from(false).into(),
                limits,
                violation,
            },
        }
    }
}

// read task - runs until there are no more frames coming from the remote
// Reads frames from the underlying stream and forwards them to the stream
// manager.
struct Reader<R> {
    io: R,
    sys_tx: mpsc::Sender<Frame>,
    accept_tx: mpsc::Sender<Stream>,
    limits: SharedLimits,
    manager: SharedStreamManager,
    last_stream_processed: StreamID,
    violation: Arc<OnceLock<ProtocolViolation>>,
    // Resolves when the writer task has ended, so that a GOAWAY is on the wire before the
    // reader lets the application see the session end.
    writer_done: oneshot::Receiver<()>,
}

/// How the reader stops: the session ended normally, or the peer broke the protocol.
enum Stop {
    Closed(Error),
    Violation(ProtocolViolation),
}

impl From<Error> for Stop {
    fn from(other: Error) -> Stop {
        Stop::Closed(other)
    }
}

fn violation(code: Error, reason: impl Into<String>) -> Stop {
    Stop::Violation(ProtocolViolation {
        code,
        reason: reason.into(),
    })
}

impl<R> Reader<R>
where
    R: futures::stream::Stream<Item = Result<Frame, io::Error>> + Unpin,
{
    /// Handle an incoming frame from the remote
    #[instrument(level = "trace", skip(self))]
    async fn handle_frame(&mut self, frame: Frame) -> Result<(), Stop> {
        if let Body::Invalid { error, .. } = &frame.body {
            return Err(violation(
                Error::from(*error),
                format!(
                    "invalid {:?} frame on stream {}: {error}",
                    frame.header.typ, frame.header.stream_id
                ),
            ));
        }

        // If the remote sent a syn, create a new stream and add it to the accept channel.
        if frame.is_syn() {
            let id = frame.header.stream_id;
            let (req, stream) = OpenReq::create(self.limits.window(), false);
            let created = {
                let mut manager = self.manager.lock().await;
                manager
                    .check_remote_syn(id)
                    .map_err(|reason| violation(Error::Protocol, reason))?;
                manager.create_stream(id.into(), req)
            };
            match created {
                Ok(_) => {
                    self.accept_tx
                        .send(stream)
                        .map_err(|_| Error::SessionClosed)
                        .await?;
                }
                // Over the stream limit: refuse this stream, keep the session.
                Err(error) => {
                    debug!(stream_id = display(id), error = display(error), "refusing a stream");
                    self.sys_tx
                        .send(Frame::rst(id, Error::StreamRefused))
                        .map_err(|_| Error::SessionClosed)
                        .await?;
                    return Ok(());
                }
            }
        }

        let needs_close = frame.is_fin();

        let Frame {
            header:
                Header {
                    length: _,
                    flags: _,
                    stream_id,
                    typ,
                },
            ..
        } = frame;

        match typ {
            // These frame types are stream-specific
            HeaderType::Data | HeaderType::Rst | HeaderType::WndInc => {
                if let Err(error) = self.manager.send_to_stream(frame).await {
                    // If the stream manager couldn't send this frame to the
                    // stream for some reason, generate an RST to tell the other
                    // end to stop sending on this stream.
                    debug!(
                        stream_id = display(stream_id),
                        error = display(error),
                        "error sending to stream, generating rst"
                    );
                    self.sys_tx
                        .send(Frame::rst(stream_id, error))
                        .map_err(|_| Error::SessionClosed)
                        .await?;
                } else {
                    self.last_stream_processed = stream_id;
                    if needs_close
                        && let Ok(handle) = self.manager.lock().await.get_stream(stream_id)
                    {
                        handle.data_write_closed = true;
                    }
                }
            }

            // GoAway is a system-level frame, so send it along the special
            // system channel.
            HeaderType::GoAway => {
                let error = match frame.body {
                    Body::GoAway { error, .. } => error,
                    _ => Error::Protocol,
                };
                self.manager.go_away(error).await;
                return Err(Error::RemoteGoneAway.into());
            }
            // Invalid bodies were refused above; a valid frame never has this type.
            HeaderType::Invalid(t) => {
                return Err(violation(Error::Protocol, format!("frame of unknown type {t}")));
            }
        }
        Ok(())
    }

    // The actual read/process loop
    async fn run(mut self) -> Result<(), Error> {
        let stop = loop {
            match self.io.try_next().await {
                Ok(Some(frame)) => {
                    trace!(?frame, "received frame from remote");
                    if let Err(stop) = self.handle_frame(frame).await {
                        break stop;
                    }
                }
                Ok(None) => break Stop::Closed(Error::PeerEOF),
                Err(e) => match e.get_ref().and_then(|e| e.downcast_ref::<InvalidHeader>()) {
                    Some(invalid) => {
                        break violation(Error::from(*invalid), invalid.to_string());
                    }
                    None => break Stop::Closed(Error::SessionClosed),
                },
            }
        };

        match stop {
            Stop::Violation(v) => self.refuse(v).await,
            Stop::Closed(error) => debug!(error = display(error), "session reader ended"),
        }

        self.manager.close_senders().await;

        Err(Error::SessionClosed)
    }

    /// Ends the session on a protocol violation: records why, for the application to log
    /// with the peer's address, tells the peer in a GOAWAY, and waits (briefly) for the
    /// writer to put it on the wire. Nothing more is read from a peer that broke the rules.
    async fn refuse(&mut self, v: ProtocolViolation) {
        debug!(violation = %v, "ending the session: the peer broke the protocol");
        let goaway = Frame::goaway(self.last_stream_processed, v.code, v.reason.clone().into());
        let _ = self.violation.set(v);
        let sent = tokio::time::timeout(GOAWAY_GRACE, async {
            if self.sys_tx.send(goaway).await.is_ok() {
                let _ = (&mut self.writer_done).await;
            }
        })
        .await;
        if sent.is_err() {
            debug!("the GOAWAY was not written in time");
        }
    }
}

// The writer task responsible for receiving frames from streams or open
// requests and writing them to the underlying stream.
struct Writer<W> {
    manager: SharedStreamManager,
    limits: SharedLimits,
    open_reqs: mpsc::Receiver<oneshot::Sender<Result<Stream, Error>>>,
    io: W,
    // Dropped when the writer ends: the reader waits for that after queueing a GOAWAY.
    _done: oneshot::Sender<()>,
}

impl<W> Writer<W>
where
    W: Sink<Frame, Error = io::Error> + Unpin + Send + 'static,
{
    async fn run(mut self) -> Result<(), Error> {
        loop {
            select! {
                // The stream manager produced a frame that needs to be sent to
                // the remote.
                frame = self.manager.next() => {
                    if let Some(frame) = frame {
                        if self.send_batch(frame).await? {
                            return Ok(())
                        }
                    }
                },
                // If a request for a new stream originated locally, tell the
                // stream manager to create it. The first dataframe from it will
                // have the SYN flag set.
                req = self.open_reqs.next() => {
                    if let Some(resp_tx) = req {
                        let (req, stream) = OpenReq::create(self.limits.window(), true);

                        let mut manager = self.manager.lock().await;
                        let res = manager.create_stream(None, req);
                        let _ = resp_tx.send(res.map(move |_| stream));
                    }
                },
                // All senders have been dropped - exit.
                complete => {
                    return Ok(());
                }
            }
        }
    }
}

impl<W> Writer<W>
where
    W: Sink<Frame, Error = io::Error> + Unpin + Send + 'static,
{
    /// Writes `first` and the frames that are ready right behind it, then flushes once.
    ///
    /// Flushing after every frame (as `send` does) costs one write to the transport per
    /// frame: one TLS record and one system call for each window update or small data
    /// frame. Under load many streams have frames ready at once, and one flush for all of
    /// them is what keeps the session from being bound by system calls. A batch stops at
    /// the first moment no frame is ready, so a lone frame is never delayed.
    ///
    /// Returns whether a GoAway was sent (the session is over).
    async fn send_batch(&mut self, first: Frame) -> Result<bool, Error> {
        let mut frame = first;
        let mut frames = 0;
        let mut bytes = 0;
        loop {
            let is_goaway = matches!(frame.header.typ, HeaderType::GoAway);
            frames += 1;
            bytes += frame.body.len();
            trace!(?frame, "sending frame to remote");
            self.io
                .feed(frame)
                .await
                .map_err(|_| Error::SessionClosed)?;
            if is_goaway {
                // Close the transport too (a TLS close_notify), so the peer reads the
                // GOAWAY and then the end of the connection.
                self.io.close().await.map_err(|_| Error::SessionClosed)?;
                return Ok(true);
            }
            if frames >= MAX_BATCH_FRAMES || bytes >= MAX_BATCH_BYTES {
                break;
            }
            // Polled with this task's own context, so that when nothing is ready the
            // wakers registered are the ones `run` will sleep on.
            let next = future::poll_fn(|cx| match self.manager.poll_next_unpin(cx) {
                std::task::Poll::Ready(f) => std::task::Poll::Ready(f),
                std::task::Poll::Pending => std::task::Poll::Ready(None),
            })
            .await;
            match next {
                Some(f) => frame = f,
                None => break,
            }
        }
        self.io.flush().await.map_err(|_| Error::SessionClosed)?;
        Ok(false)
    }
}

/// Plaintext read from the transport per call: room for several full data frames.
const READ_CAPACITY: usize = 64 * 1024;

/// The smallest default frame limit: room for a GOAWAY with a long message even when the
/// window is small.
const MIN_MAX_FRAME: usize = 64 * 1024;

/// How long a session that ends on a protocol violation waits for its GOAWAY to be written.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// Bounds on one batch of frames written before a flush: enough to fill several TLS
/// records, few enough that other streams' frames and heartbeats are not held back.
const MAX_BATCH_FRAMES: usize = 64;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// A muxado session.
///
/// Can be used directly to open and accept streams, or split into dedicated
/// open/accept parts.
pub trait Session: Accept + OpenClose {
    /// The open half of the session.
    type OpenClose: OpenClose;
    /// The accept half of the session.
    type Accept: Accept;
    /// Split the session into dedicated open/accept components.
    fn split(self) -> (Self::OpenClose, Self::Accept);
}

/// Trait for accepting incoming streams in a muxado [Session].
#[async_trait]
pub trait Accept {
    /// Accept an incoming stream that was opened by the remote.
    async fn accept(&mut self) -> Option<Stream>;
}

/// Trait for opening new streams in a muxado [Session].
#[async_trait]
pub trait OpenClose {
    /// Open a new stream.
    async fn open(&mut self) -> Result<Stream, Error>;
    /// Close the session by sending a GOAWAY
    async fn close(&mut self, error: Error, msg: String) -> Result<(), Error>;
}

/// The [Open] half of a muxado session.
#[derive(Clone)]
pub struct MuxadoOpen {
    dropref: awaitdrop::Ref,
    open_tx: mpsc::Sender<oneshot::Sender<Result<Stream, Error>>>,
    sys_tx: mpsc::Sender<Frame>,
    closed: Arc<AtomicBool>,
    limits: SharedLimits,
    violation: Arc<OnceLock<ProtocolViolation>>,
}

impl MuxadoOpen {
    /// Changes the receive window of streams opened from now on (by either end) and the
    /// largest frame the peer may send. A server starts a session from an unauthenticated
    /// peer with small ones and raises them once the peer has proved who it is.
    pub fn set_limits(&self, window: usize, max_frame_size: usize) {
        self.limits.set(window, max_frame_size);
    }

    /// Why the session ended, if it ended because the peer broke the protocol.
    pub fn protocol_violation(&self) -> Option<&ProtocolViolation> {
        self.violation.get()
    }
}

/// The [Accept] half of a muxado session.
pub struct MuxadoAccept(
    #[allow(dead_code)] awaitdrop::Ref,
    mpsc::Receiver<Stream>,
    Arc<OnceLock<ProtocolViolation>>,
);

impl MuxadoAccept {
    /// Why the session ended, if it ended because the peer broke the protocol. Set before
    /// [Accept::accept] returns `None` for that reason.
    pub fn protocol_violation(&self) -> Option<&ProtocolViolation> {
        self.2.get()
    }
}

#[async_trait]
impl Accept for MuxadoAccept {
    async fn accept(&mut self) -> Option<Stream> {
        self.1.next().await
    }
}

#[async_trait]
impl OpenClose for MuxadoOpen {
    async fn open(&mut self) -> Result<Stream, Error> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::SessionClosed);
        }
        let (resp_tx, resp_rx) = oneshot::channel();

        self.open_tx
            .send(resp_tx)
            .await
            .map_err(|_| Error::SessionClosed)?;

        let mut res = resp_rx
            .await
            .map_err(|_| Error::SessionClosed)
            .and_then(|r| r);

        if let Ok(stream) = &mut res {
            stream.dropref = self.dropref.clone().into();
        }

        res
    }

    async fn close(&mut self, error: Error, msg: String) -> Result<(), Error> {
        let res = self
            .sys_tx
            .send(Frame::goaway(
                StreamID::clamp(0),
                error,
                msg.into_bytes().into(),
            ))
            .await
            .map_err(|_| Error::SessionClosed);
        self.closed.store(true, Ordering::SeqCst);
        res
    }
}

/// The base muxado [Session] implementation.
///
/// See the [Session], [Accept], and [Open] trait implementations for
/// available methods.
pub struct MuxadoSession {
    incoming: MuxadoAccept,
    outgoing: MuxadoOpen,
}

#[async_trait]
impl Accept for MuxadoSession {
    async fn accept(&mut self) -> Option<Stream> {
        self.incoming.accept().await
    }
}

#[async_trait]
impl OpenClose for MuxadoSession {
    async fn open(&mut self) -> Result<Stream, Error> {
        self.outgoing.open().await
    }

    async fn close(&mut self, error: Error, msg: String) -> Result<(), Error> {
        self.outgoing.close(error, msg).await
    }
}

impl Session for MuxadoSession {
    type Accept = MuxadoAccept;
    type OpenClose = MuxadoOpen;
    fn split(self) -> (Self::OpenClose, Self::Accept) {
        (self.outgoing, self.incoming)
    }
}

#[cfg(test)]
mod test {
    use tokio::io::{
        self,
        AsyncReadExt,
        AsyncWriteExt,
    };

    use super::*;
    #[tokio::test]
    async fn test_session() {
        let (left, right) = io::duplex(512);
        let mut server = SessionBuilder::new(left).server().start();
        let mut client = SessionBuilder::new(right).client().start();

        tokio::spawn(async move {
            let mut stream = server.accept().await.expect("accept stream");
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).await.expect("read stream");
            drop(stream);
            let mut stream = server.open().await.expect("open stream");
            stream.write_all(&buf).await.expect("write to stream");
        });

        let mut stream = client.open().await.expect("open stream");
        stream
            .write_all(b"Hello, world!")
            .await
            .expect("write to stream");
        drop(stream);

        let mut stream = client.accept().await.expect("accept stream");
        let mut buf = Vec::new();
        stream
            .read_to_end(&mut buf)
            .await
            .expect("read from stream");

        assert_eq!(b"Hello, world!", &*buf,);
    }

    /// Many streams writing at once: the writer batches their frames before each flush, and
    /// every byte still reaches its own stream, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_streams_keep_their_bytes_when_batched() {
        let (left, right) = io::duplex(64 * 1024);
        let mut server = SessionBuilder::new(left).server().start();
        let client = SessionBuilder::new(right).client().start();
        let (open, _accept) = client.split();

        tokio::spawn(async move {
            while let Some(mut stream) = server.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    stream.read_to_end(&mut buf).await.expect("read stream");
                    stream.write_all(&buf).await.expect("echo");
                    stream.shutdown().await.expect("finish");
                });
            }
        });

        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let mut open = open.clone();
            tasks.push(tokio::spawn(async move {
                let sent: Vec<u8> = (0..60_000u32).map(|n| (n as u8) ^ i).collect();
                let stream = open.open().await.expect("open stream");
                let (mut r, mut w) = tokio::io::split(stream);
                let writer = {
                    let sent = sent.clone();
                    tokio::spawn(async move {
                        for chunk in sent.chunks(1000 + i as usize * 37) {
                            w.write_all(chunk).await.expect("write");
                        }
                        w.shutdown().await.expect("finish");
                    })
                };
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.expect("read echo");
                writer.await.expect("writer");
                assert_eq!(got, sent, "stream {i}");
            }));
        }
        for t in tasks {
            t.await.expect("stream task");
        }
    }
}
