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

/// Where a `tls` tunnel's TLS ends (ngrok's `terminate_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminateAt {
    /// Pass the client's TLS bytes to the upstream untouched.
    Upstream,
    /// The agent terminates TLS with `crt`/`key`, checking client certificates against
    /// `mutual_tls_cas` if given. The edge never sees plaintext.
    Agent,
    /// The edge terminates TLS, with `crt`/`key` when given (sent in the bind) or else the
    /// certificate it serves for the name, checking client certificates against
    /// `mutual_tls_cas` if given; the agent receives plaintext.
    Edge,
}

impl TerminateAt {
    /// ngrok's default when `terminate_at` is not set: `edge` when the tunnel has a certificate,
    /// a key or client CAs (all of which only mean something where TLS ends), else `upstream`.
    pub fn default_for(crt_key_or_cas: bool) -> Self {
        if crt_key_or_cas {
            Self::Edge
        } else {
            Self::Upstream
        }
    }
}

/// What serving a tunnel needs, built once from its files before the first bind.
#[derive(Debug)]
pub struct Prepared {
    /// Set when the agent terminates TLS for this tunnel.
    pub tls: Option<Arc<ServerConfig>>,
    /// The bind's `Opts`, shaped as ngrok's SDK shapes them, with the files' contents the edge
    /// needs (client CAs, a certificate and key to terminate with) read now: a file that
    /// vanished later cannot quietly drop a protection from a re-bind.
    pub opts: Value,
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
    /// PEM certificate chain presented where TLS ends: by the agent, or sent to the edge.
    pub crt: Option<PathBuf>,
    /// PEM private key of `crt`.
    pub key: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to. For HTTP and for TLS with
    /// [`TerminateAt::Edge`] the file is sent in the bind and the edge checks; for TLS with
    /// [`TerminateAt::Agent`] the agent checks.
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
    /// TCP and TLS: the PROXY protocol version (1 or 2) asked of the edge; 0 for none.
    pub proxy_proto: u8,
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
    /// `terminate_at: edge` with only one of `crt` and `key`. Neither is fine (the edge serves
    /// the domain's own certificate); one alone is a mistake.
    #[error("{code}: tunnel {name:?}: terminate_at: edge takes crt and key together (missing: {missing}); give both, or neither to serve the domain's own certificate")]
    HalfCertificate {
        /// Always [`ErrorCode::TerminationNeedsCertificate`], shown first in the message.
        code: ErrorCode,
        /// The tunnel, as configured.
        name: String,
        /// `crt` or `key`.
        missing: &'static str,
    },
    /// `crt`/`key` with `terminate_at: upstream`: the client's TLS passes through untouched,
    /// so they would be silently unused.
    #[error("{code}: tunnel {name:?}: crt/key are set but terminate_at is 'upstream', which passes the client's TLS through untouched; use terminate_at: edge (the default with crt/key) or agent")]
    UnusedCertificate {
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
    /// A tunnel named `name` to `addr` with every option at its default: no name asked
    /// for, TLS passed through, inspection on for HTTP only, no protections.
    pub fn new(name: impl Into<String>, proto: TunnelProto, addr: Upstream) -> Self {
        Self {
            name: name.into(),
            proto,
            addr,
            domain: None,
            subdomain: None,
            remote_addr: None,
            terminate_at: TerminateAt::Upstream,
            crt: None,
            key: None,
            mutual_tls_cas: None,
            alpn: Vec::new(),
            http_scheme: false,
            metadata: String::new(),
            inspect: proto == TunnelProto::Http,
            host_header: HostHeader::Preserve,
            basic_auth: Vec::new(),
            proxy_proto: 0,
        }
    }

    /// The protocol of the bind. ngrok's agents bind `https` for an HTTPS endpoint.
    pub fn bind_proto(&self) -> BindProto {
        match (self.proto, self.http_scheme) {
            (TunnelProto::Http, true) => BindProto::Http,
            (TunnelProto::Http, false) => BindProto::Https,
            (TunnelProto::Tls, _) => BindProto::Tls,
            (TunnelProto::Tcp, _) => BindProto::Tcp,
        }
    }

    /// The bind's `Opts`, shaped as ngrok's SDK shapes them. `files` holds what was read from
    /// the tunnel's files: the client CAs (PEM) and, for [`TerminateAt::Edge`], the
    /// certificate and key.
    fn bind_opts(&self, files: &BindFiles) -> Value {
        let domain = self.domain.clone().unwrap_or_default();
        let subdomain = self.subdomain.clone().unwrap_or_default();
        let client_cas = files
            .client_cas
            .as_ref()
            .map(|pem| json!({ "mutual_tls_ca": base64_std(pem) }));
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
                json!({
                    "Domain": domain, "Hostname": "", "Auth": "", "Subdomain": subdomain,
                    "HostHeaderRewrite": self.host_header == HostHeader::Rewrite,
                    "LocalUrlScheme": if self.addr.tls { "https" } else { "http" },
                    "ProxyProto": 0,
                    "Compression": null, "CircuitBreaker": null, "IPRestriction": null,
                    "BasicAuth": basic_auth, "OAuth": null, "OIDC": null,
                    "WebhookVerification": null, "MutualTLSCA": client_cas,
                    "RequestHeaders": null, "ResponseHeaders": null,
                    "WebsocketTCPConverter": null, "UserAgentFilter": null, "TrafficPolicy": null,
                })
            }
            TunnelProto::Tls => {
                let at_edge = self.terminate_at == TerminateAt::Edge;
                // As ngrok's SDK sends it: an object, empty when the edge is to serve the
                // name's own certificate.
                let termination = at_edge.then(|| match &files.identity {
                    Some((crt, key)) => json!({ "cert": base64_std(crt), "key": base64_std(key) }),
                    None => json!({}),
                });
                json!({
                    "Domain": domain, "Hostname": "", "Subdomain": subdomain, "ProxyProto": self.proxy_proto,
                    "MutualTLSAtAgent": self.terminate_at == TerminateAt::Agent && self.mutual_tls_cas.is_some(),
                    "MutualTLSAtEdge": if at_edge { client_cas } else { None },
                    "TLSTermination": termination,
                    "IPRestriction": null, "TrafficPolicy": null,
                })
            }
            TunnelProto::Tcp => json!({
                "Addr": self.remote_addr.clone().unwrap_or_default(), "ProxyProto": self.proxy_proto,
                "IPRestriction": null, "TrafficPolicy": null,
            }),
        }
    }

    /// Checks the tunnel's files and builds what serving it needs. Runs before the bind, so a
    /// wrong certificate never becomes a public endpoint that fails every handshake.
    pub fn prepare(&self) -> Result<Prepared, TunnelError> {
        let file_err = |source| TunnelError::File {
            name: self.name.clone(),
            source,
        };
        // Checked here so a wrong file (the guide passes a CA key) is named now.
        let client_cas = match &self.mutual_tls_cas {
            Some(path) => {
                let pem = ferry_pki::read_file(path).map_err(file_err)?;
                let certs = ferry_pki::ca_certs_from_pem(path, &pem).map_err(file_err)?;
                Some((path, pem, certs))
            }
            None => None,
        };
        let mut files = BindFiles {
            client_cas: client_cas.as_ref().map(|(_, pem, _)| pem.clone()),
            identity: None,
        };
        let mut tls = None;
        match (self.proto, self.terminate_at) {
            (TunnelProto::Http | TunnelProto::Tcp, _) => {}
            (TunnelProto::Tls, TerminateAt::Upstream) => {
                if self.crt.is_some() || self.key.is_some() {
                    return Err(TunnelError::UnusedCertificate {
                        code: ErrorCode::TerminationNeedsCertificate,
                        name: self.name.clone(),
                    });
                }
            }
            (TunnelProto::Tls, TerminateAt::Edge) => {
                files.identity = match (&self.crt, &self.key) {
                    (None, None) => None,
                    (Some(crt), Some(key)) => {
                        let crt_pem = ferry_pki::read_file(crt).map_err(file_err)?;
                        let key_pem = ferry_pki::read_file(key).map_err(file_err)?;
                        // The edge checks them too; checked here, the mistake is named
                        // with the file, before anything is bound.
                        ferry_pki::server_identity_from_pem(crt, &crt_pem, key, &key_pem)
                            .map_err(file_err)?;
                        Some((crt_pem, key_pem))
                    }
                    (None, Some(_)) | (Some(_), None) => {
                        return Err(TunnelError::HalfCertificate {
                            code: ErrorCode::TerminationNeedsCertificate,
                            name: self.name.clone(),
                            missing: if self.crt.is_none() { "crt" } else { "key" },
                        })
                    }
                };
            }
            (TunnelProto::Tls, TerminateAt::Agent) => {
                let cas = client_cas.map(|(path, _, certs)| (path, certs));
                tls = Some(self.agent_tls(cas)?);
            }
        }
        Ok(Prepared {
            tls,
            opts: self.bind_opts(&files),
        })
    }

    /// The TLS configuration of a tunnel the agent terminates, requiring client certificates
    /// from `client_cas` (its file and certificates) when given.
    fn agent_tls(
        &self,
        client_cas: Option<(&PathBuf, Vec<rustls::pki_types::CertificateDer<'static>>)>,
    ) -> Result<Arc<ServerConfig>, TunnelError> {
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
        let identity =
            ferry_pki::load_server_identity(crt, key).map_err(|source| TunnelError::File {
                name: self.name.clone(),
                source,
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| TunnelError::Tls {
                name: self.name.clone(),
                source,
            })?;
        let builder = match client_cas {
            None => builder.with_no_client_auth(),
            Some((path, cas)) => {
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
        Ok(Arc::new(cfg))
    }
}

/// The contents of a tunnel's files that go into its bind.
struct BindFiles {
    /// `mutual_tls_cas`, PEM.
    client_cas: Option<Vec<u8>>,
    /// `crt` and `key`, PEM, for a tunnel the edge terminates with them.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec(dir: &Path, terminate_at: TerminateAt, files: &[&str]) -> TunnelSpec {
        let has = |name: &str| files.contains(&name).then(|| dir.join(name));
        TunnelSpec {
            domain: Some("t.example.test".into()),
            terminate_at,
            crt: has("server-crt.pem"),
            key: has("server-key.pem"),
            mutual_tls_cas: has("ca-crt.pem"),
            ..TunnelSpec::new("t", TunnelProto::Tls, Upstream::parse("3000").unwrap())
        }
    }

    fn certs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let opts = ferry_pki::GenerateOptions {
            domains: vec!["t.example.test".into()],
            ..Default::default()
        };
        ferry_pki::generate_set(&opts, dir.path()).unwrap();
        dir
    }

    fn b64_of(path: &Path) -> String {
        base64_std(&std::fs::read(path).unwrap())
    }

    #[test]
    fn an_edge_tunnel_sends_its_certificate_key_and_client_cas_as_ngrok_does() {
        let dir = certs();
        let d = dir.path();
        let all = ["server-crt.pem", "server-key.pem", "ca-crt.pem"];
        let p = spec(d, TerminateAt::Edge, &all).prepare().unwrap();
        assert!(p.tls.is_none(), "the agent does not terminate");
        let term = &p.opts["TLSTermination"];
        assert_eq!(term["cert"], b64_of(&d.join("server-crt.pem")));
        assert_eq!(term["key"], b64_of(&d.join("server-key.pem")));
        assert_eq!(
            p.opts["MutualTLSAtEdge"]["mutual_tls_ca"],
            b64_of(&d.join("ca-crt.pem"))
        );
        assert_eq!(p.opts["MutualTLSAtAgent"], false);
        // Without crt/key the edge serves the name's own certificate: an empty object.
        let p = spec(d, TerminateAt::Edge, &[]).prepare().unwrap();
        assert_eq!(p.opts["TLSTermination"], json!({}));
        assert_eq!(p.opts["MutualTLSAtEdge"], Value::Null);
        // Passed through: neither.
        let p = spec(d, TerminateAt::Upstream, &[]).prepare().unwrap();
        assert_eq!(p.opts["TLSTermination"], Value::Null);
        // At the agent: the agent's own configuration, nothing for the edge.
        let p = spec(d, TerminateAt::Agent, &all).prepare().unwrap();
        assert!(p.tls.is_some());
        assert_eq!(p.opts["TLSTermination"], Value::Null);
        assert_eq!(p.opts["MutualTLSAtEdge"], Value::Null);
        assert_eq!(p.opts["MutualTLSAtAgent"], true);
    }

    #[test]
    fn wrong_edge_files_are_named_before_the_bind() {
        let dir = certs();
        let d = dir.path();
        let err = |s: TunnelSpec| s.prepare().unwrap_err().to_string();
        let half = err(spec(d, TerminateAt::Edge, &["server-crt.pem"]));
        assert!(
            half.contains("missing: key") && half.contains("ERR_FERRY_504"),
            "{half}"
        );
        // The client's key with the server's certificate.
        let mut mismatched = spec(d, TerminateAt::Edge, &["server-crt.pem", "server-key.pem"]);
        mismatched.key = Some(d.join("client-key.pem"));
        let e = err(mismatched);
        assert!(
            e.contains("does not match") && e.contains("ERR_FERRY_505"),
            "{e}"
        );
        // The CA key as the client CAs (DESIGN trap 2).
        let mut ca_key = spec(d, TerminateAt::Edge, &[]);
        ca_key.mutual_tls_cas = Some(d.join("ca-key.pem"));
        assert!(err(ca_key).contains("private key"));
        let unused = err(spec(
            d,
            TerminateAt::Upstream,
            &["server-crt.pem", "server-key.pem"],
        ));
        assert!(
            unused.contains("passes the client's TLS through"),
            "{unused}"
        );
    }
}
