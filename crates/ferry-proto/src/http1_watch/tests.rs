use super::*;

/// What the watch reported, with bodies joined, so that any split of the bytes must give
/// the same record.
#[derive(Debug, Default, PartialEq, Eq)]
struct Record {
    events: Vec<String>,
}

impl Record {
    fn push(&mut self, e: Event<'_>) {
        let text = match e {
            Event::Request(h) => format!("request {} {} {}", h.method, h.target, h.version),
            Event::Response(h) => format!("response {} {}", h.status, h.reason),
            Event::RequestBody(b) => return self.body("request body", b),
            Event::ResponseBody(b) => return self.body("response body", b),
            Event::RequestEnd => "request end".into(),
            Event::ResponseEnd => "response end".into(),
            Event::Lost(why) => format!("lost: {why}"),
        };
        self.events.push(text);
    }

    fn body(&mut self, kind: &str, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(b);
        match self.events.last_mut() {
            Some(last) if last.starts_with(kind) => last.push_str(&text),
            _ => self.events.push(format!("{kind} {text}")),
        }
    }
}

/// Feeds the client's bytes, then the upstream's, each in pieces of `step` bytes.
fn watch(client: &[u8], upstream: &[u8], step: usize, close: bool) -> Vec<String> {
    let mut x = Exchange::default();
    let mut rec = Record::default();
    for piece in client.chunks(step) {
        x.client_sent(piece, &mut |e| rec.push(e));
    }
    for piece in upstream.chunks(step) {
        x.upstream_sent(piece, &mut |e| rec.push(e));
    }
    if close {
        x.upstream_closed(&mut |e| rec.push(e));
    }
    rec.events
}

/// The same record whether the bytes come at once or one at a time, and anything between.
fn watch_every_split(client: &[u8], upstream: &[u8], close: bool) -> Vec<String> {
    let whole = watch(client, upstream, usize::MAX, close);
    for step in 1..=17 {
        assert_eq!(
            watch(client, upstream, step, close),
            whole,
            "pieces of {step}"
        );
    }
    whole
}

#[test]
fn pipelined_requests_with_lengths_and_chunks() {
    let client = b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: h\r\n\r\n\
PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
    let upstream =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok\
HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
    let got = watch_every_split(client, upstream, false);
    assert_eq!(
        got,
        [
            "request POST /a?x=1 HTTP/1.1",
            "request body hello",
            "request end",
            "request GET /b HTTP/1.1",
            "request end",
            "request PUT /c HTTP/1.1",
            "request body abcde",
            "request end",
            "response 201 Created",
            "response body ok",
            "response end",
            "response 200 OK",
            "response body wxyz",
            "response end",
            "response 204 No Content",
            "response end",
        ]
    );
}

#[test]
fn head_answers_have_no_body_and_close_delimited_ones_end_with_the_connection() {
    let client = b"HEAD / HTTP/1.1\r\n\r\nGET /old HTTP/1.0\r\n\r\n";
    let upstream =
        b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end";
    let got = watch_every_split(client, upstream, true);
    assert_eq!(
        got,
        [
            "request HEAD / HTTP/1.1",
            "request end",
            "request GET /old HTTP/1.0",
            "request end",
            "response 200 OK",
            "response end",
            "response 200 OK",
            "response body until the end",
            "response end",
        ]
    );
}

#[test]
fn an_upgrade_stops_the_watch_and_so_does_garbage() {
    let client =
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello";
    let upstream = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
    let got = watch_every_split(client, upstream, true);
    assert_eq!(got[0], "request GET /ws HTTP/1.1");
    assert_eq!(got[2], "response 101 Switching Protocols");
    assert_eq!(got[3], "lost: the connection was upgraded");
    assert_eq!(got.len(), 4, "{got:?}");

    let got = watch_every_split(b"\x16\x03\x01 not http\r\n\r\n", b"", false);
    assert_eq!(got, ["lost: a request head that does not parse"]);
    let got = watch_every_split(
        b"GET / HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        false,
    );
    assert_eq!(
        got.last().unwrap(),
        "lost: a content-length that is not a number"
    );
    let got = watch_every_split(b"", b"HTTP/1.1 200 OK\r\n\r\n", false);
    assert_eq!(got, ["lost: a response to no request"]);
}

#[test]
fn limits_stop_the_watch_without_holding_more() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    while head.len() <= MAX_HEAD {
        head.extend_from_slice(b"x-filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let got = watch(&head, b"", 1000, false);
    assert_eq!(got, ["lost: a request head longer than 64 KiB"]);
    let mut x = Exchange::default();
    x.client_sent(&head, &mut |_| {});
    assert!(
        x.requests.pending.is_empty(),
        "nothing is held once the watch stops"
    );

    let mut chunked = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1".to_vec();
    chunked.extend(std::iter::repeat_n(b'0', MAX_LINE + 10));
    let got = watch(&chunked, b"", 100, false);
    assert_eq!(got.last().unwrap(), "lost: a chunk line longer than 4 KiB");
    let got = watch(
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"",
        3,
        false,
    );
    assert_eq!(
        got.last().unwrap(),
        "lost: a chunk size that does not parse"
    );
}

#[test]
fn heads_keep_their_lines_in_order_with_names_in_lower_case() {
    let mut x = Exchange::default();
    let mut heads = Vec::new();
    x.client_sent(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two: 2\r\n\r\n",
        &mut |e| {
            if let Event::Request(h) = e {
                heads.push(h)
            }
        },
    );
    let lines: Vec<_> = heads[0].headers.iter().collect();
    assert_eq!(lines, [("host", "a"), ("x-two", "1"), ("x-two", "2")]);
}

#[test]
fn responses_to_requests_that_went_by_elsewhere_are_framed_as_theirs() {
    let mut x = Exchange::default();
    let mut rec = Record::default();
    x.expect_response(true);
    x.expect_response(false);
    let upstream = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
                     HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    x.upstream_sent(upstream, &mut |e| rec.push(e));
    assert_eq!(
        rec.events,
        [
            "response 200 OK",
            "response end",
            "response 200 OK",
            "response body hello",
            "response end"
        ]
    );
}
