//! The meeting point of the edge and the control plane: the control plane's [`Live`] trait,
//! implemented with the edge's [`EdgeView`]. Neither crate imports the other.

use std::sync::Arc;

use ferry_control::{
    CommandFailure, CommandFuture, DnsFuture, Live, LiveSession, LiveTunnel, MetricsFuture,
    SessionCommand,
};
use ferry_edge::{AgentCommand, CommandError, EdgeView};
use tokio::sync::Notify;

pub struct EdgeLive {
    pub view: EdgeView,
    /// Wakes the certificate jobs' runner.
    pub jobs: Arc<Notify>,
}

impl Live for EdgeLive {
    fn draining(&self) -> bool {
        self.view.draining()
    }

    fn live_regions(&self) -> Vec<String> {
        self.view.live_regions()
    }

    fn sessions(&self) -> Vec<LiveSession> {
        self.view
            .sessions()
            .into_iter()
            .map(|s| LiveSession {
                id: s.id,
                credential_id: s.credential_id,
                ip: s.remote.ip().to_string(),
                os: s.os,
                agent_version: s.agent_version,
                metadata: s.metadata,
                started_at: s.started_at,
                region: s.region,
            })
            .collect()
    }

    fn tunnels(&self) -> Vec<LiveTunnel> {
        self.view
            .tunnels()
            .into_iter()
            .map(|t| LiveTunnel {
                id: t.id.to_string(),
                session_id: t.session_id,
                public_url: t.public_url,
                proto: t.proto.to_string(),
                metadata: t.metadata,
                forwards_to: t.forwards_to,
                started_at: t.started_at,
                region: t.region,
            })
            .collect()
    }

    fn command<'a>(&'a self, session_id: &'a str, command: SessionCommand) -> CommandFuture<'a> {
        let command = match command {
            SessionCommand::Restart => AgentCommand::Restart,
            SessionCommand::Stop => AgentCommand::Stop,
            SessionCommand::Update => AgentCommand::Update,
        };
        Box::pin(async move {
            self.view
                .command(session_id, command)
                .await
                .map_err(|e| match e {
                    CommandError::NoSession(_) => CommandFailure::NoSession,
                    CommandError::Unsupported { why, .. } => CommandFailure::Unsupported(why),
                    CommandError::Refused(why) => CommandFailure::Refused(why),
                    CommandError::Failed(why) => CommandFailure::NoAnswer(why),
                })
        })
    }

    fn close_sessions_of(&self, credential_ids: &[String]) -> usize {
        self.view.close_sessions_of(credential_ids)
    }

    fn agent_ingresses_changed(&self, domains: Vec<String>) {
        self.view.set_agent_ingresses(&domains);
    }

    fn certificates_changed(&self) {
        self.view.certificates_changed();
        self.jobs.notify_one();
    }

    fn dns_changed(&self) -> DnsFuture<'_> {
        Box::pin(async move {
            if let Err(error) = self.view.refresh_dns().await {
                // The 10 s safety net tries again; the zones in service stay as they were.
                tracing::warn!(%error, "could not rebuild the DNS zones after a change");
            }
        })
    }

    fn metrics(&self) -> MetricsFuture<'_> {
        Box::pin(self.view.metrics())
    }
}
