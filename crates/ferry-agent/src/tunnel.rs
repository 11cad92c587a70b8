//! A tunnel as the agent runs it: what it asks the edge for, and how it treats the
//! connections the edge sends back.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_proto::BindProto;
use ferry_types::ErrorCode;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde_json::{json, Value};

use crate::upstream::Upstream;

/// The kind of endpoint (ngrok's `proto`). Whether an HTTP endpoint is HTTPS is a separate
/// choice, [`TunnelSpec::http_scheme`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelProto {
    /// The edge speaks HTTP to clients; the agent parses requests only when it inspects them
    /// or rewrites `Host`, and splices otherwise.
    Http,
    /// The edge routes by SNI and passes the client's TLS on; see [`TerminateAt`].
    Tls,
    /// A TCP port on the edge, spliced to the upstream.
    Tcp,
}

/// Where a `tls` tunnel's TLS ends (ngrok's `terminate_at`). ngrok's third place, `edge`, is
/// refused: Ferry's edge does not terminate a tunnel's TLS yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminateAt {
    /// Pass the client's TLS bytes to the upstream untouched.
    Upstream,
    /// The agent terminates TLS with `crt`/`key`, checking client certificates against
    /// `mutual_tls_cas` if given. The edge never sees plaintext.
    Agent,
}

/// What the agent sends upstream as `Host` (ngrok's `host_header`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostHeader {
    /// The public host the client asked for.
    Preserve,
    /// The upstream's own `host:port`; the original goes in `X-Forwarded-Host`.
    Rewrite,
    /// This value, for an upstream that serves one name whatever the public one is.
    Literal(String),
}

/// A tunnel definition, from the command line, a config file or the agent API.
#[derive(Clone, Debug)]
pub struct TunnelSpec {
    /// Unique within the agent: the agent API's path segment and the `tunnel_name` of
    /// captures.
    pub name: String,
    /// Also decides which of the other fields apply; [`crate::config::tunnel_spec`] refuses
    /// the ones that do not.
    pub proto: TunnelProto,
    /// The local service the edge's connections are carried to.
    pub addr: Upstream,
    /// The public host asked of the edge, a wildcard such as `*.example.com` included. Outside
    /// dev mode the edge binds only names reserved for the authtoken's account.
    pub domain: Option<String>,
    /// A label the edge puts under its base domain; the bind's `Subdomain`.
    pub subdomain: Option<String>,
    /// TCP only: the reserved `host:port` to bind; `None` lets the edge pick a port.
    pub remote_addr: Option<String>,
    /// TLS only; [`TunnelSpec::prepare`] checks it agrees with `crt` and `key`.
    pub terminate_at: TerminateAt,
    /// PEM certificate chain the agent presents when it terminates TLS.
    pub crt: Option<PathBuf>,
    /// PEM private key of `crt`.
    pub key: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to. For HTTP the file is sent in
    /// the bind and the edge checks; for TLS with [`TerminateAt::Agent`] the agent checks.
    pub mutual_tls_cas: Option<PathBuf>,
    /// ALPN protocols the agent offers when it terminates TLS. Empty by default: the upstream
    /// gets bytes in whatever protocol the client chose, so offering h2 to an HTTP/1.1
    /// upstream would break it (DESIGN trap 7).
    pub alpn: Vec<String>,
    /// `http` binds a plain-HTTP endpoint; the default is HTTPS.
    pub http_scheme: bool,
    /// Sent with each bind as ngrok's tunnel metadata; empty by default.
    pub metadata: String,
    /// Capture requests for the inspector (HTTP only).
    pub inspect: bool,
    /// HTTP only; anything but [`HostHeader::Preserve`] makes the agent parse every request.
    pub host_header: HostHeader,
    /// `user:password` pairs the edge requires (HTTP only).
    pub basic_auth: Vec<(String, String)>,
}

/// A tunnel the agent will not bind because it could not serve it as asked. Found before the
/// bind, so no public endpoint exists that fails every connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TunnelError {
    /// `terminate_at: agent` without `crt`, `key`, or either.
    #[error("{code}: tunnel {name:?}: terminate_at: agent needs both crt and key (missing: {missing}); `ferry certs generate --domain '*.example.com' --out certs` makes a working set")]
    NeedsCertificate {
        /// Always [`ErrorCode::TerminationNeedsCertificate`], shown first in the message.
        code: ErrorCode,
        /// The tunnel, as configured.
        name: String,
        /// `crt`, `key`, or `crt and key`.
        missing: &'static str,
    },
    /// `crt`/`key` without `terminate_at: agent`: ngrok would terminate at its edge with
    /// them, which Ferry's edge does not do, so they would be silently unused.
    #[error("{code}: tunnel {name:?}: crt/key are set but terminate_at is not 'agent'; Ferry terminates TLS for a tunnel at the agent only, so add terminate_at: agent")]
    EdgeTermination {
        /// Always [`ErrorCode::TerminationNeedsCertificate`], shown first in the message.
        code: ErrorCode,
        /// The tunnel, as configured.
        name: String,
    },
    /// A `crt`, `key` or CA file is missing, unreadable, or not what its key asks for (a CA
    /// key where certificates belong, say); the source names the file and the defect.
    #[error("{code}: tunnel {name:?}: {source}", code = source.code())]
    File {
        /// The tunnel, as configured.
        name: String,
        /// Carries its own code.
        #[source]
        source: ferry_pki::LoadError,
    },
    /// The files load but rustls will not serve with them (a key that is not the
    /// certificate's, an unsupported key type).
    #[error("{code}: tunnel {name:?}: TLS settings: {source}", code = ErrorCode::CertificateDefective)]
    Tls {
        /// The tunnel, as configured.
        name: String,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// `mutual_tls_cas` loads but cannot verify clients: a certificate rustls will not take as
    /// a trust anchor, or none at all.
    #[error("{code}: tunnel {name:?}: mutual_tls_cas: {why}", code = ErrorCode::CertificateDefective)]
    ClientCas {
        /// The tunnel, as configured.
        name: String,
        /// rustls's reason, with the file when one certificate was refused.
        why: String,
    },
}

impl TunnelSpec {
    /// The protocol of the bind. ngrok's agents bind `https` for an HTTPS endpoint.
    pub fn bind_proto(&self) -> BindProto {
        match (self.proto, self.http_scheme) {
            (TunnelProto::Http, true) => BindProto::Http,
            (TunnelProto::Http, false) => BindProto::Https,
            (TunnelProto::Tls, _) => BindProto::Tls,
            (TunnelProto::Tcp, _) => BindProto::Tcp,
        }
    }

    /// The bind's `Opts`, shaped as ngrok's SDK shapes them.
    pub fn bind_opts(&self) -> Value {
        let domain = self.domain.clone().unwrap_or_default();
        let subdomain = self.subdomain.clone().unwrap_or_default();
        match self.proto {
            TunnelProto::Http => {
                let basic_auth = (!self.basic_auth.is_empty()).then(|| {
                    let creds: Vec<Value> = self
                        .basic_auth
                        .iter()
                        .map(|(u, p)| json!({"username": u, "cleartext_password": p}))
                        .collect();
                    json!({ "credentials": creds })
                });
                let mutual_tls_ca = self.mutual_tls_cas.as_ref().and_then(|path| {
                    std::fs::read(path)
                        .ok()
                        .map(|pem| json!({ "mutual_tls_ca": base64_std(&pem) }))
                });
                json!({
                    "Domain": domain, "Hostname": "", "Auth": "", "Subdomain": subdomain,
                    "HostHeaderRewrite": self.host_header == HostHeader::Rewrite,
                    "LocalUrlScheme": if self.addr.tls { "https" } else { "http" },
                    "ProxyProto": 0,
                    "Compression": null, "CircuitBreaker": null, "IPRestriction": null,
                    "BasicAuth": basic_auth, "OAuth": null, "OIDC": null,
                    "WebhookVerification": null, "MutualTLSCA": mutual_tls_ca,
                    "RequestHeaders": null, "ResponseHeaders": null,
                    "WebsocketTCPConverter": null, "UserAgentFilter": null, "TrafficPolicy": null,
                })
            }
            TunnelProto::Tls => json!({
                "Domain": domain, "Hostname": "", "Subdomain": subdomain, "ProxyProto": 0,
                "MutualTLSAtAgent": self.terminate_at == TerminateAt::Agent && self.mutual_tls_cas.is_some(),
                "MutualTLSAtEdge": null, "TLSTermination": null,
                "IPRestriction": null, "TrafficPolicy": null,
            }),
            TunnelProto::Tcp => json!({
                "Addr": self.remote_addr.clone().unwrap_or_default(), "ProxyProto": 0,
                "IPRestriction": null, "TrafficPolicy": null,
            }),
        }
    }

    /// Checks the tunnel's files and builds what serving it needs. Runs before the bind, so a
    /// wrong certificate never becomes a public endpoint that fails every handshake.
    pub fn prepare(&self) -> Result<Option<Arc<ServerConfig>>, TunnelError> {
        if self.proto == TunnelProto::Http {
            if let Some(path) = &self.mutual_tls_cas {
                // Checked here so a wrong file (the guide passes a CA key) is named now.
                ferry_pki::load_ca_certs(path).map_err(|source| TunnelError::File {
                    name: self.name.clone(),
                    source,
                })?;
            }
            return Ok(None);
        }
        let has_files = self.crt.is_some() || self.key.is_some();
        if self.terminate_at != TerminateAt::Agent {
            if has_files {
                return Err(TunnelError::EdgeTermination {
                    code: ErrorCode::TerminationNeedsCertificate,
                    name: self.name.clone(),
                });
            }
            return Ok(None);
        }
        let (crt, key) = match (&self.crt, &self.key) {
            (Some(c), Some(k)) => (c, k),
            (c, k) => {
                let missing = match (c.is_none(), k.is_none()) {
                    (true, true) => "crt and key",
                    (true, false) => "crt",
                    _ => "key",
                };
                return Err(TunnelError::NeedsCertificate {
                    code: ErrorCode::TerminationNeedsCertificate,
                    name: self.name.clone(),
                    missing,
                });
            }
        };
        let file_err = |source| TunnelError::File {
            name: self.name.clone(),
            source,
        };
        let identity = ferry_pki::load_server_identity(crt, key).map_err(file_err)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| TunnelError::Tls {
                name: self.name.clone(),
                source,
            })?;
        let builder = match &self.mutual_tls_cas {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let cas = ferry_pki::load_ca_certs(path).map_err(file_err)?;
                let mut roots = RootCertStore::empty();
                for ca in cas {
                    roots.add(ca).map_err(|e| TunnelError::ClientCas {
                        name: self.name.clone(),
                        why: format!("{}: {e}", path.display()),
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TunnelError::ClientCas {
                            name: self.name.clone(),
                            why: e.to_string(),
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = builder
            .with_single_cert(identity.chain, identity.key)
            .map_err(|source| TunnelError::Tls {
                name: self.name.clone(),
                source,
            })?;
        cfg.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Some(Arc::new(cfg)))
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
