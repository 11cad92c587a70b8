//! Fuzzes the HTTP/1.1 watch the agent runs over every inspected stream: whatever the two
//! sides send, it must never panic, never hold more than a head's worth of bytes, and report
//! the same events however the bytes are split into reads.
#![no_main]

use ferry_proto::http1_watch::{Event, Exchange};
use libfuzzer_sys::fuzz_target;

/// The events as text, each body's bytes joined, so that splits cannot change them.
fn record(into: &mut Vec<(String, Vec<u8>)>, e: Event<'_>) {
    let (kind, body) = match e {
        Event::RequestBody(b) => ("request body", b),
        Event::ResponseBody(b) => ("response body", b),
        other => return into.push((format!("{other:?}"), Vec::new())),
    };
    if body.is_empty() {
        return;
    }
    match into.last_mut() {
        Some((last, bytes)) if last == kind => bytes.extend_from_slice(body),
        _ => into.push((kind.to_string(), body.to_vec())),
    }
}

/// The first byte picks the split size; the rest, cut at its first 0xff, is what the client
/// sent and then what the upstream sent.
fn run(client: &[u8], upstream: &[u8], step: usize) -> Vec<(String, Vec<u8>)> {
    let mut x = Exchange::default();
    let mut out = Vec::new();
    for piece in client.chunks(step) {
        x.client_sent(piece, &mut |e| record(&mut out, e));
    }
    for piece in upstream.chunks(step) {
        x.upstream_sent(piece, &mut |e| record(&mut out, e));
    }
    x.upstream_closed(&mut |e| record(&mut out, e));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (client, upstream) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let whole = run(client, upstream, usize::MAX);
    let step = usize::from(first % 16) + 1;
    assert_eq!(run(client, upstream, step), whole, "pieces of {step}");
});
