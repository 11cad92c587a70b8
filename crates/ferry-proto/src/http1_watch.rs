//! Watching an HTTP/1.1 connection go by without taking part in it: the agent splices a
//! proxy stream to the upstream byte for byte and feeds what passes each way here, which
//! finds the messages in it (their heads, their bodies, where each ends) for the inspector.
//! Nothing here changes or holds back a byte, so a message this cannot follow is still
//! carried exactly; the watch just stops ([`Event::Lost`]) and the bytes keep flowing.
//!
//! Message framing follows RFC 9112 section 6: a request's body is chunked or has a length
//! (or is empty); a response's depends on the request it answers (HEAD, CONNECT), its status
//! (1xx, 204, 304, 101) and then the same headers, or runs to the end of the connection.

use std::collections::VecDeque;

mod header_lines;
pub use header_lines::HeaderLines;

/// The most a head may take; beyond it the watch stops (the upstream or the edge decides
/// what to do with such a message).
pub const MAX_HEAD: usize = 64 * 1024;
/// Header lines a head may have.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line (with extensions) or trailer line followed.
const MAX_LINE: usize = 4096;

/// A message's head, as the inspector shows it. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The request's method, or empty for a response.
    pub method: String,
    /// The request target, or empty for a response.
    pub target: String,
    /// The response's status code, or 0 for a request.
    pub status: u16,
    /// The response's reason phrase.
    pub reason: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'static str,
    /// Every header line, in order.
    pub headers: HeaderLines,
}

/// What the watch found in the bytes it was fed, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A request's head.
    Request(Head),
    /// Bytes of the current request's body (chunked bodies decoded).
    RequestBody(&'a [u8]),
    /// The current request ended.
    RequestEnd,
    /// A final response's head (interim 1xx answers are skipped, 101 included here).
    Response(Head),
    /// Bytes of the current response's body.
    ResponseBody(&'a [u8]),
    /// The current response ended.
    ResponseEnd,
    /// The watch stopped: an upgrade or CONNECT made the connection a byte stream, or the
    /// bytes were not HTTP/1.1 this can follow (the reason says which).
    Lost(&'static str),
}

/// Where a direction stands.
#[derive(Debug)]
enum State {
    /// Collecting a head.
    Head,
    /// This many body bytes are left.
    Fixed(u64),
    /// A chunked body.
    Chunked(Chunk),
    /// A response body that ends with the connection.
    UntilClose,
    /// Not following any more.
    Stopped,
}

#[derive(Debug)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many bytes of chunk data are left.
    Data(u64),
    /// The CRLF after a chunk's data: this many bytes are left.
    DataEnd(u8),
    /// Reading trailer lines until an empty one.
    Trailers,
}

/// One direction of the connection.
#[derive(Debug)]
struct Direction {
    state: State,
    /// A head, or a chunk-size or trailer line, being collected.
    pending: Vec<u8>,
}

impl Default for Direction {
    fn default() -> Self {
        Direction {
            state: State::Head,
            pending: Vec::new(),
        }
    }
}

/// What a response needs to know about the request it answers.
#[derive(Debug, Clone, Copy)]
struct Asked {
    head: bool,
    connect: bool,
}

/// Both directions of one HTTP/1.1 connection.
#[derive(Debug, Default)]
pub struct Exchange {
    requests: Direction,
    responses: Direction,
    /// Requests whose responses have not begun, oldest first.
    asked: VecDeque<Asked>,
}

impl Exchange {
    /// Feeds bytes the client sent; `sink` gets what they hold.
    pub fn client_sent(&mut self, data: &[u8], sink: &mut impl FnMut(Event<'_>)) {
        self.feed(Side::Request, data, sink);
    }

    /// Feeds bytes the upstream sent; `sink` gets what they hold.
    pub fn upstream_sent(&mut self, data: &[u8], sink: &mut impl FnMut(Event<'_>)) {
        self.feed(Side::Response, data, sink);
    }

    fn feed(&mut self, side: Side, mut data: &[u8], sink: &mut impl FnMut(Event<'_>)) {
        while !data.is_empty() {
            let dir = match side {
                Side::Request => &mut self.requests,
                Side::Response => &mut self.responses,
            };
            let used = match dir.state {
                State::Stopped => return,
                State::Head => match collect_head(&mut dir.pending, data) {
                    Collected::More => return,
                    Collected::TooLong => return self.stop(sink, side.too_long()),
                    Collected::Head(used) => {
                        match side {
                            Side::Request => self.request_head(sink),
                            Side::Response => self.response_head(sink),
                        }
                        used
                    }
                },
                _ => body(dir, data, sink, side),
            };
            data = &data[used..];
        }
    }

    /// A request went to the upstream without passing through here (its head was read and
    /// rewritten by the caller, as the edge's relay does): the response that answers it is
    /// framed as that request's (`to_head` when it was a HEAD, whose response has no body).
    pub fn expect_response(&mut self, to_head: bool) {
        self.asked.push_back(Asked {
            head: to_head,
            connect: false,
        });
    }

    /// The upstream closed its side: a response that runs to the end of the connection is
    /// complete.
    pub fn upstream_closed(&mut self, sink: &mut impl FnMut(Event<'_>)) {
        if let State::UntilClose = self.responses.state {
            self.responses.state = State::Head;
            sink(Event::ResponseEnd);
        }
    }

    /// Stops following both directions.
    fn stop(&mut self, sink: &mut impl FnMut(Event<'_>), why: &'static str) {
        if !matches!(
            (&self.requests.state, &self.responses.state),
            (State::Stopped, State::Stopped)
        ) {
            sink(Event::Lost(why));
        }
        for d in [&mut self.requests, &mut self.responses] {
            d.state = State::Stopped;
            d.pending = Vec::new();
        }
    }

    fn request_head(&mut self, sink: &mut impl FnMut(Event<'_>)) {
        let raw = std::mem::take(&mut self.requests.pending);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let head = match req.parse(&raw) {
            Ok(httparse::Status::Complete(_)) => Head {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                status: 0,
                reason: String::new(),
                version: version(req.version),
                headers: lines(req.headers),
            },
            _ => {
                self.stop(sink, "a request head that does not parse");
                return;
            }
        };
        let framing = match length(&head.headers) {
            Ok(f) => f,
            Err(why) => {
                self.stop(sink, why);
                return;
            }
        };
        self.asked.push_back(Asked {
            head: head.method == "HEAD",
            connect: head.method == "CONNECT",
        });
        sink(Event::Request(head));
        self.requests.state = match framing {
            Framing::Chunked => State::Chunked(Chunk::Size),
            Framing::Length(0) | Framing::Unknown => {
                sink(Event::RequestEnd);
                State::Head
            }
            Framing::Length(n) => State::Fixed(n),
            Framing::Unsupported => {
                self.stop(sink, "a request with a transfer coding other than chunked");
                return;
            }
        };
    }

    fn response_head(&mut self, sink: &mut impl FnMut(Event<'_>)) {
        let raw = std::mem::take(&mut self.responses.pending);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let head = match resp.parse(&raw) {
            Ok(httparse::Status::Complete(_)) => Head {
                method: String::new(),
                target: String::new(),
                status: resp.code.unwrap_or_default(),
                reason: resp.reason.unwrap_or_default().to_string(),
                version: version(resp.version),
                headers: lines(resp.headers),
            },
            _ => {
                self.stop(sink, "a response head that does not parse");
                return;
            }
        };
        let status = head.status;
        if (100..200).contains(&status) && status != 101 {
            // 100 Continue and the like: the final answer follows.
            return;
        }
        let Some(asked) = self.asked.pop_front() else {
            self.stop(sink, "a response to no request");
            return;
        };
        let framing = length(&head.headers);
        sink(Event::Response(head));
        if status == 101 || (asked.connect && (200..300).contains(&status)) {
            self.stop(sink, "the connection was upgraded");
            return;
        }
        self.responses.state = if asked.head || status == 204 || status == 304 {
            sink(Event::ResponseEnd);
            State::Head
        } else {
            match framing {
                Ok(Framing::Chunked) => State::Chunked(Chunk::Size),
                Ok(Framing::Length(0)) => {
                    sink(Event::ResponseEnd);
                    State::Head
                }
                Ok(Framing::Length(n)) => State::Fixed(n),
                Ok(Framing::Unknown | Framing::Unsupported) => State::UntilClose,
                Err(why) => {
                    self.stop(sink, why);
                    return;
                }
            }
        };
    }
}

#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

impl Side {
    fn body(self, data: &[u8]) -> Event<'_> {
        match self {
            Side::Request => Event::RequestBody(data),
            Side::Response => Event::ResponseBody(data),
        }
    }

    fn too_long(self) -> &'static str {
        match self {
            Side::Request => "a request head longer than 64 KiB",
            Side::Response => "a response head longer than 64 KiB",
        }
    }

    fn end(self) -> Event<'static> {
        match self {
            Side::Request => Event::RequestEnd,
            Side::Response => Event::ResponseEnd,
        }
    }
}

/// Follows a body through `data`; returns how many bytes it took.
fn body<'a>(
    dir: &mut Direction,
    data: &'a [u8],
    sink: &mut impl FnMut(Event<'a>),
    side: Side,
) -> usize {
    match &mut dir.state {
        State::Fixed(left) => {
            let n = (*left).min(data.len() as u64) as usize;
            sink(side.body(&data[..n]));
            *left -= n as u64;
            if *left == 0 {
                dir.state = State::Head;
                sink(side.end());
            }
            n
        }
        State::UntilClose => {
            sink(side.body(data));
            data.len()
        }
        State::Chunked(Chunk::Data(left)) => {
            let n = (*left).min(data.len() as u64) as usize;
            sink(side.body(&data[..n]));
            *left -= n as u64;
            if *left == 0 {
                dir.state = State::Chunked(Chunk::DataEnd(2));
            }
            n
        }
        State::Chunked(Chunk::DataEnd(left)) => {
            let n = (*left as usize).min(data.len());
            *left -= n as u8;
            if *left == 0 {
                dir.state = State::Chunked(Chunk::Size);
            }
            n
        }
        State::Chunked(Chunk::Size) => {
            let Some(used) = collect_line(&mut dir.pending, data) else {
                return too_long_or_all(dir, data, sink);
            };
            let line = std::mem::take(&mut dir.pending);
            match chunk_size(&line) {
                Some(0) => dir.state = State::Chunked(Chunk::Trailers),
                Some(n) => dir.state = State::Chunked(Chunk::Data(n)),
                None => {
                    dir.state = State::Stopped;
                    sink(Event::Lost("a chunk size that does not parse"));
                    return data.len();
                }
            }
            used
        }
        State::Chunked(Chunk::Trailers) => {
            let Some(used) = collect_line(&mut dir.pending, data) else {
                return too_long_or_all(dir, data, sink);
            };
            let line = std::mem::take(&mut dir.pending);
            if line == b"\r\n" || line == b"\n" {
                dir.state = State::Head;
                sink(side.end());
            }
            used
        }
        State::Head | State::Stopped => data.len(),
    }
}

/// A line still incomplete after `data`: all of `data` was taken, unless the line grew past
/// what is followed, which stops the watch of this direction.
fn too_long_or_all<'a>(
    dir: &mut Direction,
    data: &'a [u8],
    sink: &mut impl FnMut(Event<'a>),
) -> usize {
    if dir.pending.len() > MAX_LINE {
        dir.state = State::Stopped;
        dir.pending = Vec::new();
        sink(Event::Lost("a chunk line longer than 4 KiB"));
    }
    data.len()
}

/// Adds `data` to a line being collected; returns how much of `data` finished it.
fn collect_line(pending: &mut Vec<u8>, data: &[u8]) -> Option<usize> {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => {
            pending.extend_from_slice(&data[..=at]);
            Some(at + 1)
        }
        None => {
            pending.extend_from_slice(&data[..data.len().min(MAX_LINE + 1)]);
            None
        }
    }
}

enum Collected {
    More,
    TooLong,
    /// The head is complete in the pending buffer; this much of the new data was used.
    Head(usize),
}

/// Adds `data` to a head being collected, up to its empty line.
fn collect_head(pending: &mut Vec<u8>, data: &[u8]) -> Collected {
    // The empty line may straddle what came before and this.
    let from = pending.len().saturating_sub(3);
    let before = pending.len();
    let room = (MAX_HEAD + 4).saturating_sub(before);
    pending.extend_from_slice(&data[..data.len().min(room)]);
    match find_end(&pending[from..]) {
        Some(end) => {
            let end = from + end;
            pending.truncate(end);
            Collected::Head(end - before)
        }
        None if pending.len() > MAX_HEAD => Collected::TooLong,
        None => Collected::More,
    }
}

/// Where the first `\r\n\r\n` (or a bare `\n\n`) ends in `buf`.
fn find_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1..].starts_with(b"\r\n") {
                return Some(i + 3);
            }
            if buf[i + 1..].starts_with(b"\n") {
                return Some(i + 2);
            }
        }
        i += 1;
    }
    None
}

/// A chunk-size line's size (hex digits before any extension).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let size = text.trim_end_matches(['\r', '\n']);
    let size = size.split(';').next()?.trim();
    if size.is_empty() || size.len() > 15 {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}

enum Framing {
    Chunked,
    Length(u64),
    /// Neither header: no body for a request, to the end for a response.
    Unknown,
    /// A transfer coding other than chunked last.
    Unsupported,
}

/// The body framing the headers declare.
fn length(headers: &HeaderLines) -> Result<Framing, &'static str> {
    let mut coding = None;
    let mut length: Option<u64> = None;
    for (name, value) in headers.iter() {
        if name == "transfer-encoding" {
            coding = value
                .rsplit(',')
                .next()
                .map(|c| c.trim().to_ascii_lowercase());
        } else if name == "content-length" {
            for v in value.split(',') {
                let n: u64 = v
                    .trim()
                    .parse()
                    .map_err(|_| "a content-length that is not a number")?;
                if length.is_some_and(|l| l != n) {
                    return Err("two different content-lengths");
                }
                length = Some(n);
            }
        }
    }
    Ok(match (coding.as_deref(), length) {
        (Some("chunked"), _) => Framing::Chunked,
        (Some(_), _) => Framing::Unsupported,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Unknown,
    })
}

fn version(v: Option<u8>) -> &'static str {
    match v {
        Some(0) => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

fn lines(headers: &[httparse::Header<'_>]) -> HeaderLines {
    HeaderLines::from_pairs(
        headers
            .iter()
            .map(|h| (h.name, String::from_utf8_lossy(h.value))),
    )
}

#[cfg(test)]
mod tests;
