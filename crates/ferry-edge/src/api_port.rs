//! The REST API (and later the dashboard) on the shared public TLS port (`--api-domain`):
//! a connection whose SNI is the API domain is terminated here with that name's certificate
//! and handed to the control plane, which the edge does not know, through [`ApiService`].
//! Production then needs no TLS proxy in front of the loopback API listener.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

/// A decrypted connection to the API domain.
pub trait ApiIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ApiIo for T {}

/// Serves one decrypted connection to the API domain until it closes.
pub type ApiService = Arc<
    dyn Fn(
            Box<dyn ApiIo>,
            SocketAddr,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;
