//! What the edge shows and lets others do to its live state: the sessions and tunnels it
//! holds right now, closing the sessions of a revoked authtoken, and the agent ingress names
//! from the store. The control plane reaches this through the binary, never by importing the
//! edge (ARCHITECTURE.md, "Live state").

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_proto::StreamType;
use ferry_types::Hostname;

use crate::Shared;

/// A cheap, clonable handle on a running edge's live state.
#[derive(Clone)]
pub struct EdgeView {
    shared: Arc<Shared>,
}

/// One authenticated agent session.
#[derive(Clone, Debug)]
pub struct LiveSession {
    pub id: String,
    pub credential_id: String,
    pub remote: SocketAddr,
    pub os: String,
    pub agent_version: String,
    pub metadata: String,
    /// `ferry`, `ngrok-rust`, `ngrok-go`...
    pub client_type: String,
    pub started_at: SystemTime,
}

/// A command the edge sends to an agent (ngrok's server-to-agent streams 4, 5 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentCommand {
    Restart,
    Stop,
    Update,
}

/// Why a command did not reach or was not carried out by the agent.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no live session {0}")]
    NoSession(String),
    #[error("the agent does not support {command}: {why}")]
    Unsupported { command: &'static str, why: String },
    #[error("the agent answered: {0}")]
    Refused(String),
    #[error("the agent did not answer: {0}")]
    Failed(String),
}

const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// One bound endpoint.
#[derive(Clone, Debug)]
pub struct LiveTunnel {
    pub id: String,
    pub session_id: String,
    pub public_url: String,
    /// The protocol the agent bound with: `http`, `https`, `tls` or `tcp`.
    pub proto: String,
    pub metadata: String,
    pub forwards_to: String,
    pub started_at: SystemTime,
}

impl EdgeView {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub fn sessions(&self) -> Vec<LiveSession> {
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
            })
            .collect()
    }

    pub fn tunnels(&self) -> Vec<LiveTunnel> {
        self.shared
            .registry
            .snapshot()
            .into_iter()
            .map(|t| LiveTunnel {
                id: t.id.clone(),
                session_id: t.session.id.to_string(),
                public_url: t.public_url.clone(),
                proto: t.bind_proto.clone(),
                metadata: t.metadata.clone(),
                forwards_to: t.forwards_to.clone(),
                started_at: t.started_at,
            })
            .collect()
    }

    /// Closes every session authenticated with one of `credential_ids` (a deleted authtoken,
    /// or the tokens of a deactivated bot user) and returns how many were closed. Their
    /// tunnels go offline at once; the agents cannot authenticate again.
    pub fn close_sessions_of(&self, credential_ids: &[String]) -> usize {
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

    /// Sends `command` to the agent of session `id` and waits for its answer. An agent that
    /// said in Auth that it does not handle the command is not asked.
    pub async fn command(&self, id: &str, command: AgentCommand) -> Result<(), CommandError> {
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
}
