//! The installation's CA, shared by every node on one database: the agent ingress presents
//! certificates of this CA (agents trust it as ngrok's agents trust ngrok's), and nodes
//! authenticate each other with it, so an agent that fails over to another node, or a node
//! dialling a peer, must meet the same CA everywhere. The database keeps it (the key sealed);
//! each data directory keeps a copy as `dev-ca.pem`, which `dev.json` names.

use std::path::Path;

use anyhow::Context;
use ferry_pki::DevCa;
use ferry_store::Store;

/// Where the database keeps the CA: its certificate then its key, in PEM, sealed as one value
/// so that two nodes racing to store theirs can never keep one's certificate with the
/// other's key.
const SETTING: &str = "installation_ca";

/// The CA and whether it came from another node (this data directory joins an installation
/// that existed before it).
pub(super) struct InstallationCa {
    pub(super) ca: DevCa,
    pub(super) joined: bool,
}

/// Loads the installation's CA: the one in the database when there is one (written into
/// `data_dir` when the directory is new), else this directory's (made if absent), stored for
/// the nodes that come after.
pub(super) async fn load(store: &Store, data_dir: &Path) -> anyhow::Result<InstallationCa> {
    if let Some(shared) = store.secret_setting(SETTING).await? {
        return adopt(data_dir, &shared).map(|ca| InstallationCa { ca, joined: true });
    }
    let had_one = data_dir.join("dev-ca.pem").exists() || data_dir.join("dev-ca-key.pem").exists();
    let own = DevCa::load_or_create(data_dir).context("loading the installation's CA")?;
    let mine = format!("{}{}", own.cert_pem(), own.key_pem());
    let kept = store.secret_setting_or_insert(SETTING, &mine).await?;
    if kept == mine {
        return Ok(InstallationCa {
            ca: own,
            joined: false,
        });
    }
    // Another node stored its CA first. One made at this start was never trusted by anyone
    // and gives way; one the directory had before stays, and `adopt` says they differ.
    if !had_one {
        std::fs::remove_file(own.cert_path())
            .and_then(|()| std::fs::remove_file(own.cert_path().with_file_name("dev-ca-key.pem")))
            .context("replacing the CA made at this start with the installation's")?;
    }
    adopt(data_dir, &kept).map(|ca| InstallationCa { ca, joined: true })
}

fn adopt(data_dir: &Path, shared: &str) -> anyhow::Result<DevCa> {
    let split = shared
        .find("-----BEGIN PRIVATE KEY-----")
        .context("the installation's CA stored in the database has no key")?;
    let (cert, key) = shared.split_at(split);
    DevCa::adopt(data_dir, cert, key).context("loading the installation's CA")
}
