//! The sessions this node dials to its peers, one per peer address, opened on first use and
//! again when one has ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_transport::{Accept, KillSwitch, MuxadoOpen, OpenClose, SessionBuilder, Stream};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long dialling a peer may take, connection and handshake together.
const DIAL: Duration = Duration::from_secs(3);

/// Why a stream to a peer could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    /// The TCP connection or the TLS handshake failed.
    #[error("dialling {addr}: {source}")]
    Dial {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Neither connecting nor the handshake finished in time.
    #[error("dialling {0}: no answer within 3 s")]
    Timeout(String),
    /// A fresh session refused the stream.
    #[error("opening a stream to {addr}: {source}")]
    Open {
        addr: String,
        #[source]
        source: ferry_transport::MuxadoError,
    },
}

pub(crate) struct Peers {
    connector: TlsConnector,
    sessions: Mutex<HashMap<String, Peer>>,
}

/// One dialled session. `ended` trips when the peer's side closes: muxado would still hand
/// out a stream on a session whose reader has stopped, and that stream would wait forever.
#[derive(Clone)]
struct Peer {
    open: MuxadoOpen,
    ended: KillSwitch,
}

impl Peers {
    pub(crate) fn new(client: Arc<ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(client),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// A new stream to the peer at `addr`, on its session, dialled again if it ended.
    pub(crate) async fn open(&self, addr: &str) -> Result<Stream, PeerError> {
        let kept = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(addr)
            .cloned();
        if let Some(mut peer) = kept.filter(|p| !p.ended.is_killed()) {
            if let Ok(stream) = peer.open.open().await {
                return Ok(stream);
            }
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(addr);
        }
        let mut peer = self.dial(addr).await?;
        let stream = peer.open.open().await.map_err(|source| PeerError::Open {
            addr: addr.to_string(),
            source,
        })?;
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(addr.to_string(), peer);
        Ok(stream)
    }

    async fn dial(&self, addr: &str) -> Result<Peer, PeerError> {
        let dial = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(ferry_pki::NODE_NAME)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            self.connector.connect(name, tcp).await
        };
        let tls = match tokio::time::timeout(DIAL, dial).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(source)) => {
                return Err(PeerError::Dial {
                    addr: addr.to_string(),
                    source,
                })
            }
            Err(_) => return Err(PeerError::Timeout(addr.to_string())),
        };
        let ended = KillSwitch::default();
        let session = SessionBuilder::new(ended.wrap(ferry_transport::session_io(
            tls,
            ferry_transport::EDGE_READ_BUFFER,
        )))
        .client()
        .start();
        let (open, mut accept) = ferry_transport::Session::split(session);
        // Peers open nothing towards the dialler; the accept half ends when the session's
        // reader does (the peer closed or died), which marks the session ended.
        let watch = ended.clone();
        tokio::spawn(async move {
            while accept.accept().await.is_some() {}
            watch.kill();
        });
        Ok(Peer { open, ended })
    }
}
