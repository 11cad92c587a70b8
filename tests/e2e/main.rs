//! End-to-end tests: the real `ferry` binary as edge and agent, real curl, and ngrok's own
//! SDK as a second agent, all on loopback with ports picked at run time.
// A test may unwrap: a panic is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acme;
mod agent_api;
mod browser;
mod certs;
mod cluster;
mod cluster_carry;
mod config;
mod console;
mod control;
mod customer_dns;
mod dashboard;
mod data_conn;
mod dns;
mod dns_check;
mod enforcement;
mod guides;
mod hardening;
mod harness;
mod http;
mod http_relay;
mod metrics;
mod operations;
mod protect;
mod proxy_proto;
mod resilience;
mod sdk;
mod served_certs;
mod store_failures;
mod tls_edge;
mod tls_tcp;
mod upgrade;
mod upstream;
