//! What the edge shows and lets others do to its live state: the sessions and tunnels it
//! holds right now, closing the sessions of a revoked authtoken, and the agent ingress names
//! from the store. The control plane reaches this through the binary, never by importing the
//! edge (ARCHITECTURE.md, "Live state").

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_proto::{BindProto, StreamType};
use ferry_types::{Hostname, TunnelId};

use crate::Shared;

/// A cheap, clonable handle on a running edge's live state.
#[derive(Clone)]
pub struct EdgeView {
    pub(crate) shared: Arc<Shared>,
}

/// One authenticated agent session.
#[derive(Clone, Debug)]
pub struct LiveSession {
    /// A `ts_` ID made at Auth; a reconnecting agent gets a new one.
    pub id: String,
    /// The `cr_` ID of the authtoken the session authenticated with, which revocation
    /// matches ([`EdgeView::close_sessions_of`]).
    pub credential_id: String,
    /// The agent's address as the edge's socket saw it: a load balancer's, behind one.
    pub remote: SocketAddr,
    /// Auth's `Extra.OS`, unchecked: the agent's word, shown as it gave it.
    pub os: String,
    /// Auth's `Extra.Version`, unchecked.
    pub agent_version: String,
    /// Auth's `Extra.Metadata`, unchecked.
    pub metadata: String,
    /// `ferry`, `ngrok-rust`, `ngrok-go`...
    pub client_type: String,
    /// When Auth succeeded.
    pub started_at: SystemTime,
    /// The region of the node that holds it; empty for this node.
    pub region: String,
}

/// A command the edge sends to an agent (ngrok's server-to-agent streams 4, 5 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentCommand {
    /// Stream 4: the agent restarts and connects again, with a new session.
    Restart,
    /// Stream 5: the agent process exits; its tunnels go offline for the grace period.
    Stop,
    /// Stream 6: the agent updates itself, within its major version.
    Update,
}

/// Why a command did not reach or was not carried out by the agent.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The session ID names no session on this edge: it ended, or belongs to another node.
    #[error("no live session {0}")]
    NoSession(String),
    /// The agent said in Auth that it does not take the command, or, too old to know the
    /// commands, said nothing; it is not asked.
    #[error("the agent does not support {command}: {why}")]
    Unsupported {
        /// `restart`, `stop` or `update`, as the API path names it.
        command: &'static str,
        /// The agent's own reason from Auth, or that it declared nothing.
        why: String,
    },
    /// The agent was asked and answered with an error, quoted as it gave it.
    #[error("the agent answered: {0}")]
    Refused(String),
    /// The agent was asked but no answer came back within 10 s, the stream failed, or the
    /// answer did not parse; the command may or may not have been carried out.
    #[error("the agent did not answer: {0}")]
    Failed(String),
}

/// A time another node recorded, in Unix milliseconds.
fn from_unix_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl From<AgentCommand> for crate::cluster::Command {
    fn from(c: AgentCommand) -> Self {
        match c {
            AgentCommand::Restart => Self::Restart,
            AgentCommand::Stop => Self::Stop,
            AgentCommand::Update => Self::Update,
        }
    }
}

impl From<crate::cluster::Command> for AgentCommand {
    fn from(c: crate::cluster::Command) -> Self {
        match c {
            crate::cluster::Command::Restart => Self::Restart,
            crate::cluster::Command::Stop => Self::Stop,
            crate::cluster::Command::Update => Self::Update,
        }
    }
}

impl From<CommandError> for crate::cluster::Reply {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NoSession(_) => Self::NoSession,
            CommandError::Unsupported { why, .. } => Self::Unsupported { why },
            CommandError::Refused(message) => Self::Refused { message },
            CommandError::Failed(message) => Self::Failed { message },
        }
    }
}

impl crate::cluster::Reply {
    /// The holding node's answer to a command, as this node's own would have been.
    fn into_result(self, id: &str, command: AgentCommand) -> Result<(), CommandError> {
        match self {
            Self::Done => Ok(()),
            Self::NoSession => Err(CommandError::NoSession(id.to_string())),
            Self::Unsupported { why } => Err(CommandError::Unsupported {
                command: match command {
                    AgentCommand::Restart => "restart",
                    AgentCommand::Stop => "stop",
                    AgentCommand::Update => "update",
                },
                why,
            }),
            Self::Refused { message } => Err(CommandError::Refused(message)),
            Self::Failed { message } => Err(CommandError::Failed(message)),
            Self::Closed { .. } => Err(CommandError::Failed(
                "the holding node answered a command with a count".into(),
            )),
        }
    }
}

const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// One bound endpoint.
#[derive(Clone, Debug)]
pub struct LiveTunnel {
    /// A `tn_` ID, kept across reconnects when the agent re-binds with its bind token.
    pub id: TunnelId,
    /// The `ts_` ID of the session serving the tunnel now.
    pub session_id: String,
    /// `https://app.example.com`, `tcp://host:port`: what a public client dials.
    pub public_url: String,
    /// The protocol the agent bound with.
    pub proto: BindProto,
    /// The bind's `Extra.Metadata`, unchecked; not the session's.
    pub metadata: String,
    /// The bind's `ForwardsTo`: the agent's word for its upstream, unchecked.
    pub forwards_to: String,
    /// When the bind succeeded (a re-bind after a reconnect starts again).
    pub started_at: SystemTime,
    /// The region of the node that holds it; empty for this node.
    pub region: String,
}

impl EdgeView {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Whether a drain has begun: the edge is alive but no longer ready for new traffic.
    pub fn draining(&self) -> bool {
        self.shared
            .draining
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every authenticated session now, in no particular order.
    pub fn sessions(&self) -> Vec<LiveSession> {
        let region_of = self.regions();
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|s| LiveSession {
                id: s.id.to_string(),
                credential_id: s.credential.to_string(),
                remote: s.remote,
                os: s.os.clone(),
                agent_version: s.agent_version.clone(),
                metadata: s.metadata.clone(),
                client_type: s.client.to_string(),
                started_at: s.started_at,
                region: String::new(),
            })
            .chain(
                self.shared
                    .membership
                    .elsewhere()
                    .sessions
                    .into_iter()
                    .filter_map(|s| {
                        Some(LiveSession {
                            remote: s.remote.parse().ok()?,
                            id: s.id,
                            credential_id: s.credential_id,
                            os: s.os,
                            agent_version: s.agent_version,
                            metadata: s.metadata,
                            client_type: s.client_type,
                            started_at: from_unix_ms(s.started_at_ms),
                            region: region_of(&s.node),
                        })
                    }),
            )
            .collect()
    }

    /// Every bound tunnel now, in no particular order; offline names are not tunnels.
    pub fn tunnels(&self) -> Vec<LiveTunnel> {
        let region_of = self.regions();
        self.shared
            .registry
            .snapshot()
            .into_iter()
            .map(|t| LiveTunnel {
                id: t.id.clone(),
                session_id: t.session.id.to_string(),
                public_url: t.public_url.clone(),
                proto: t.proto,
                metadata: t.metadata.clone(),
                forwards_to: t.forwards_to.clone(),
                started_at: t.started_at,
                region: String::new(),
            })
            .chain(
                self.shared
                    .membership
                    .elsewhere()
                    .names
                    .into_iter()
                    .filter_map(|n| {
                        Some(LiveTunnel {
                            id: TunnelId::parse(&n.tunnel_id).ok()?,
                            proto: n.proto.parse().ok()?,
                            session_id: n.session_id,
                            public_url: n.public_url,
                            metadata: n.metadata,
                            forwards_to: n.forwards_to,
                            started_at: from_unix_ms(n.started_at_ms),
                            region: region_of(&n.node),
                        })
                    }),
            )
            .collect()
    }

    /// The region of each live node as of the last renewal, read once per listing.
    fn regions(&self) -> impl Fn(&str) -> String {
        let live = self.shared.membership.live();
        move |node| {
            live.iter()
                .find(|n| n.name == node)
                .map(|n| n.region.clone())
                .unwrap_or_default()
        }
    }

    /// Closes every session authenticated with one of `credential_ids` (a deleted authtoken,
    /// or the tokens of a deactivated bot user), on this node and, without waiting, on every
    /// other live node, and returns how many this node closed. Their tunnels go offline at
    /// once; the agents cannot authenticate again.
    pub fn close_sessions_of(&self, credential_ids: &[String]) -> usize {
        let here = self.close_sessions_here(credential_ids);
        let me = self.shared.config.node_name.clone();
        for node in self.shared.membership.live() {
            if node.name == me || node.cluster_addr.is_empty() {
                continue;
            }
            let shared = self.shared.clone();
            let request = crate::cluster::Request::CloseSessionsOf {
                credentials: credential_ids.to_vec(),
            };
            tokio::spawn(async move {
                match crate::cluster::ask(
                    &shared.cluster,
                    &node.cluster_addr,
                    &request,
                    COMMAND_TIMEOUT,
                )
                .await
                {
                    Ok(crate::cluster::Reply::Closed { count }) => {
                        tracing::info!(node = %node.name, count, "another node closed the sessions of a revoked authtoken");
                    }
                    Ok(other) => {
                        tracing::warn!(node = %node.name, ?other, "unexpected answer to closing a revoked authtoken's sessions")
                    }
                    Err(error) => {
                        tracing::warn!(node = %node.name, %error, "could not ask another node to close a revoked authtoken's sessions; its agents are refused at their next bind or authentication")
                    }
                }
            });
        }
        here
    }

    /// [`EdgeView::close_sessions_of`] for this node's own sessions.
    pub(crate) fn close_sessions_here(&self, credential_ids: &[String]) -> usize {
        let doomed: Vec<_> = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| credential_ids.iter().any(|c| *c == s.credential.as_str()))
            .cloned()
            .collect();
        for s in &doomed {
            tracing::info!(session = %s.id, credential = %s.credential, "closing the session of a revoked authtoken");
            s.kill.kill();
        }
        doomed.len()
    }

    /// Sends `command` to the agent of session `id`, on this node or through the node that
    /// holds it, and waits for its answer. An agent that said in Auth that it does not
    /// handle the command is not asked.
    pub async fn command(&self, id: &str, command: AgentCommand) -> Result<(), CommandError> {
        let local = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|s| s.id.as_str() == id);
        if local {
            return self.command_here(id, command).await;
        }
        let Some(addr) = self.holder_of_session(id).await else {
            return Err(CommandError::NoSession(id.to_string()));
        };
        let request = crate::cluster::Request::Command {
            session: id.to_string(),
            command: command.into(),
        };
        // The holding node waits for the agent up to its own timeout; a few seconds more for
        // the hop.
        let wait = COMMAND_TIMEOUT + Duration::from_secs(5);
        match crate::cluster::ask(&self.shared.cluster, &addr, &request, wait).await {
            Ok(reply) => reply.into_result(id, command),
            Err(e) => Err(CommandError::Failed(e)),
        }
    }

    /// The node-to-node address of the live node that holds session `id`.
    async fn holder_of_session(&self, id: &str) -> Option<String> {
        let live = self.shared.membership.live();
        let mut held = self.shared.membership.elsewhere().sessions;
        if !held.iter().any(|s| s.id == id) {
            held = self.shared.store.held_sessions().await.ok()?;
        }
        let node = held.into_iter().find(|s| s.id == id)?.node;
        live.into_iter()
            .find(|n| n.name == node && n.name != self.shared.config.node_name)
            .map(|n| n.cluster_addr)
            .filter(|a| !a.is_empty())
    }

    /// [`EdgeView::command`] for a session of this node.
    pub(crate) async fn command_here(
        &self,
        id: &str,
        command: AgentCommand,
    ) -> Result<(), CommandError> {
        let session = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|s| s.id.as_str() == id)
            .cloned()
            .ok_or_else(|| CommandError::NoSession(id.to_string()))?;
        let (name, typ, declared, body) = match command {
            AgentCommand::Restart => (
                "restart",
                StreamType::RESTART,
                &session.restart_unsupported,
                serde_json::json!({}),
            ),
            AgentCommand::Stop => (
                "stop",
                StreamType::STOP,
                &session.stop_unsupported,
                serde_json::json!({}),
            ),
            AgentCommand::Update => (
                "update",
                StreamType::UPDATE,
                &session.update_unsupported,
                serde_json::json!({ "Version": "", "PermitMajorVersion": false }),
            ),
        };
        match declared.as_deref() {
            Some("") => {}
            None => {
                return Err(CommandError::Unsupported {
                    command: name,
                    why: "the agent did not declare support for remote commands".into(),
                })
            }
            Some(why) => {
                return Err(CommandError::Unsupported {
                    command: name,
                    why: why.to_string(),
                })
            }
        }
        match ferry_transport::call(&session.open, typ, &body, COMMAND_TIMEOUT).await {
            Ok(_) => {
                tracing::info!(session = %session.id, command = name, "agent carried out a command");
                Ok(())
            }
            Err(ferry_transport::RpcError::Remote(e)) => Err(CommandError::Refused(e)),
            Err(e) => Err(CommandError::Failed(e.to_string())),
        }
    }

    /// The store's certificates (or their attachments to reserved domains) changed: they are
    /// read again and served from the next handshake on.
    pub fn certificates_changed(&self) {
        self.shared.certs_changed.notify_one();
    }

    /// Attaches the control plane: from now on connections to `--api-domain` on the public
    /// TLS port are served by `api`. Only the first call counts.
    pub fn serve_api(&self, api: crate::ApiService) {
        let _ = self.shared.api.set(api);
    }

    /// Reads the store's certificates and pending ACME challenges now, and returns once they
    /// are served: an ACME job calls it before telling the CA that a challenge is ready.
    pub async fn reload_certificates(&self) -> Result<usize, ferry_store::StoreError> {
        self.shared.certs.reload(&self.shared.store).await
    }

    /// Replaces the agent ingress domains taken from the store; names that do not parse are
    /// skipped (the control plane validates them on write).
    pub fn set_agent_ingresses(&self, domains: &[String]) {
        let parsed: Vec<Hostname> = domains
            .iter()
            .filter_map(|d| Hostname::parse(d).ok())
            .collect();
        *self
            .shared
            .agent_ingresses
            .write()
            .unwrap_or_else(|p| p.into_inner()) = parsed;
    }

    /// The regions of the nodes live now (as of the last lease renewal), each once, in the
    /// order of their nodes' names.
    pub fn live_regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for node in self.shared.membership.live() {
            if !regions.contains(&node.region) {
                regions.push(node.region);
            }
        }
        regions
    }

    /// Rebuilds the DNS zones from the store now and returns once they are served: call it
    /// after writing what DNS answers (an agent ingress, a reserved domain, a DNS-01
    /// challenge through `Store::add_dns_challenge`), so that the next query sees it. The
    /// edge also rebuilds every 10 s on its own. Without a DNS server this does nothing; on
    /// a store failure the zones in service stay as they were.
    pub async fn refresh_dns(&self) -> Result<(), ferry_store::StoreError> {
        match &self.shared.dns {
            Some(feed) => feed.refresh().await,
            None => Ok(()),
        }
    }
}
