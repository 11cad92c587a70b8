//! A stand-in for a customer's DNS provider, for the guides' walkthrough
//! (`examples/guides/walkthrough.sh`): it serves the records written in a file, which the
//! walkthrough edits as a reader edits records at their provider, and follows CNAMEs and NS
//! delegations into Ferry's DNS as the resolver of a CA or a device would.
//!
//! ```text
//! customer-dns --records FILE --ready-file FILE
//! ```
//!
//! The records file is read again whenever it changes (its format:
//! `CustomerDns::serve_file` in tests/e2e/customer_dns.rs). The ready file gets the
//! `HOST:PORT` it listens on, UDP and TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/e2e/customer_dns.rs"]
mod customer_dns;

use std::path::PathBuf;

use customer_dns::CustomerDns;

fn usage() -> ! {
    eprintln!("usage: customer-dns --records FILE --ready-file FILE");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut records, mut ready) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => records = args.next().map(PathBuf::from),
            "--ready-file" => ready = args.next().map(PathBuf::from),
            _ => usage(),
        }
    }
    let (Some(records), Some(ready)) = (records, ready) else {
        usage()
    };
    let dns = CustomerDns::start().await;
    std::fs::write(&ready, dns.addr.to_string()).expect("the ready file");
    dns.serve_file(&records).await;
}
