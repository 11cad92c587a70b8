//! Fuzzes the TLS ClientHello SNI parser: it must never panic, must give the same answer
//! for every buffer that extends one it already answered, and must keep its promises about
//! names and the buffer bound.
#![no_main]

use ferry_proto::sni::{parse_client_hello_sni, ClientHelloSni, MAX_CLIENT_HELLO};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let full = parse_client_hello_sni(data);

    match &full {
        Ok(ClientHelloSni::Name(name)) => {
            assert!(
                !name.is_empty() && name.len() <= 255,
                "name length {}",
                name.len()
            );
            assert!(
                name.bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && !b.is_ascii_uppercase()),
                "name {name:?}"
            );
        }
        Ok(ClientHelloSni::Incomplete) => {
            assert!(
                data.len() < MAX_CLIENT_HELLO,
                "Incomplete at {} bytes",
                data.len()
            );
        }
        Ok(ClientHelloSni::NoSni) | Err(_) => {}
    }

    // The edge calls the parser on growing prefixes of the same stream: an answer given
    // for a prefix must be the answer for the whole, and Incomplete for the whole means
    // Incomplete for every prefix. Check a few cut points (all of them would be quadratic).
    if data.is_empty() {
        return;
    }
    let len = data.len();
    let cuts = [
        1,
        5,
        6,
        9,
        len / 3,
        len / 2,
        len - 1,
        usize::from(data[0]) % len,
    ];
    for n in cuts {
        let n = n.min(len);
        let prefix = parse_client_hello_sni(&data[..n]);
        if prefix != Ok(ClientHelloSni::Incomplete) {
            assert_eq!(
                prefix, full,
                "answer for the first {n} of {len} bytes changed"
            );
        }
    }
});
