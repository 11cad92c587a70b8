//! ngrok's agent wire formats as the edge reads them from an untrusted agent: one RPC JSON
//! value found without FIN, decoded into each message with folded keys, and the proxy
//! stream header. None of it may panic, and an answer, once given, must not change when
//! more bytes arrive.
#![no_main]

use ferry_proto::msg::{Auth, Bind, BindOptsView, Unbind};
use ferry_proto::rpc::from_value_folded;
use ferry_proto::{decode_json_prefix, Decoded, ProxyHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Decoded::Value(v, used)) = decode_json_prefix(data) {
        assert!(used <= data.len());
        let _ = from_value_folded::<Auth>(&v);
        let _ = from_value_folded::<Unbind>(&v);
        if let Ok(b) = Bind::from_wire(&v) {
            if let Ok(view) = BindOptsView::from_opts(&b.opts) {
                let _ = view.requested_host();
                assert!(view.proxy_proto() <= 2);
            }
        }
        // A prefix that already holds the whole value decodes to the same value.
        if let Ok(Decoded::Value(again, _)) = decode_json_prefix(&data[..used]) {
            assert_eq!(again, v);
        }
    }
    match ProxyHeader::decode(data) {
        Ok(Some((h, used))) => {
            assert!(used <= data.len());
            let re = ProxyHeader::decode(&h.encode()).ok().flatten();
            assert_eq!(re.map(|(h2, _)| h2), Some(h));
        }
        Ok(None) | Err(_) => {}
    }
});
