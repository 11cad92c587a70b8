//! SIGHUP (`systemctl reload`): what changes without a restart. The log level comes again
//! from the config file (unless `--log-level` or `FERRY_LOG` set it), and the certificates
//! and DNS zones are read again from the store, so that a certificate changed behind the
//! edge's back (a restore, a row written by hand) is served at once rather than within 30 s.
//! A file that no longer reads keeps everything as it was, and says why.

use std::path::PathBuf;

use ferry_edge::EdgeView;

/// What a SIGHUP reloads, for one edge.
pub struct Reload {
    /// The `--config` file, if any.
    pub config: Option<PathBuf>,
    /// Whether the file's `log_level` applies (no flag or environment variable set one).
    pub log_level_from_file: bool,
    pub view: EdgeView,
}

impl Reload {
    pub async fn run(&self) {
        tracing::info!("SIGHUP: reloading");
        if let (Some(path), true) = (&self.config, self.log_level_from_file) {
            match super::edge_config::reread_log_level(path) {
                Ok(Some(level)) => {
                    super::set_log_level(&level);
                    tracing::info!(%level, "log level set from {}", path.display());
                }
                Ok(None) => super::set_log_level("info"),
                Err(error) => tracing::error!("{error:#}; keeping the log level"),
            }
        }
        match self.view.reload_certificates().await {
            Ok(count) => tracing::info!(count, "certificates reloaded"),
            Err(error) => {
                tracing::error!(%error, "cannot reload the certificates; keeping the ones served")
            }
        }
        if let Err(error) = self.view.refresh_dns().await {
            tracing::error!(%error, "cannot rebuild the DNS zones; keeping the ones served");
        }
    }
}
