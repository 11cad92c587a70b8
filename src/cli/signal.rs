use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: call it before announcing readiness, so that a signal sent
/// the moment the ready file appears is caught (and drains) rather than killing the process.
pub fn terminated() -> impl Future<Output = ()> {
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// SIGUSR2, the request to upgrade in place, caught from this call on (its default action
/// would end the process). `None` where the handler cannot be installed.
pub fn upgrade_requests() -> Option<tokio::signal::unix::Signal> {
    match signal(SignalKind::user_defined2()) {
        Ok(s) => Some(s),
        Err(error) => {
            tracing::warn!(%error, "cannot catch SIGUSR2: no upgrades in place");
            None
        }
    }
}

/// SIGHUP, the request to reload (`systemctl reload`), caught from this call on (its default
/// action would end the process). `None` where the handler cannot be installed.
pub fn hangups() -> Option<tokio::signal::unix::Signal> {
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(error) => {
            tracing::warn!(%error, "cannot catch SIGHUP: no reloads");
            None
        }
    }
}
