//! Telling systemd how the process is doing (`Type=notify` units): ready once every
//! listener is up, stopping when a drain begins. Outside systemd (`NOTIFY_SOCKET` unset)
//! these do nothing. A failure to notify is logged, never fatal: the service still runs.

use sd_notify::NotifyState;

/// Startup is finished.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// Startup is finished, and this process, which an upgrade in place started, is now the
/// service's main process rather than the one that started it (`NotifyAccess=all`).
pub fn ready_as_main() {
    send(&[NotifyState::MainPid(std::process::id()), NotifyState::Ready]);
}

/// A drain has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}
