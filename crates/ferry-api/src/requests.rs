//! The bodies of the REST API's creates, updates and actions, field for field as ngrok names
//! them. Each denies unknown fields, so a misspelt field is named in the error instead of
//! being ignored; every field may be left out, and the handler says which it needs.

use serde::Deserialize;

/// `PATCH` of a resource whose only changeable fields are its own words about it.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DescribedUpdate {
    /// The user's description, up to 255 bytes.
    pub description: Option<String>,
    /// The user's metadata, up to 4096 bytes.
    pub metadata: Option<String>,
}

/// The body of an action that takes none (`POST .../dns_check`): `{}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// `certificate_management_policy`: who issues the certificate of a name, and its key type.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Only `letsencrypt`.
    pub authority: Option<String>,
    /// `rsa` or `ecdsa`.
    pub private_key_type: Option<String>,
}

/// `POST /agent_ingresses`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AgentIngressCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// The domain agents dial names under.
    pub domain: Option<String>,
    /// How the agent ingress's certificates are issued.
    pub certificate_management_policy: Option<Policy>,
}

/// `PATCH /agent_ingresses/{id}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AgentIngressUpdate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// How the agent ingress's certificates are issued.
    pub certificate_management_policy: Option<Policy>,
}

/// `POST /api_keys`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// The bot user that owns the key; none for the caller's account.
    pub owner_id: Option<String>,
}

/// `POST /bot_users` and `PATCH /bot_users/{id}` alike.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BotUserBody {
    /// Its name, up to 255 bytes.
    pub name: Option<String>,
    /// Whether its authtokens authenticate.
    pub active: Option<bool>,
}

/// `POST /certificate_authorities`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CertificateAuthorityCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// The CA certificate in PEM.
    pub ca_pem: Option<String>,
}

/// `POST /credentials`: an authtoken.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CredentialCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// `bind:` rules: the names its agents may bind; none for any.
    pub acl: Option<Vec<String>>,
    /// The bot user that owns it; none for the caller's account.
    pub owner_id: Option<String>,
}

/// `PATCH /credentials/{id}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CredentialUpdate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// `bind:` rules: the names its agents may bind; none for any.
    pub acl: Option<Vec<String>>,
}

/// `POST /reserved_addrs`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReservedAddrCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// One of ngrok's region codes (`us`, `eu`...).
    pub region: Option<String>,
}

/// `POST /reserved_domains`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReservedDomainCreate {
    /// A name, or `*.` and a name.
    pub domain: Option<String>,
    /// ngrok's deprecated region.
    pub region: Option<String>,
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// An uploaded certificate to serve instead of an issued one.
    pub certificate_id: Option<String>,
    /// How its certificate is issued.
    pub certificate_management_policy: Option<Policy>,
    /// Where the domain's traffic goes, as ngrok's clients send it.
    pub resolves_to: Option<Vec<ResolvesTo>>,
}

/// `PATCH /reserved_domains/{id}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReservedDomainUpdate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// An uploaded certificate to serve instead of an issued one.
    pub certificate_id: Option<String>,
    /// How its certificate is issued.
    pub certificate_management_policy: Option<Policy>,
    /// Where the domain's traffic goes, as ngrok's clients send it.
    pub resolves_to: Option<Vec<ResolvesTo>>,
}

/// One entry of `resolves_to`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ResolvesTo {
    /// Kept and answered as sent.
    pub value: String,
}

/// `POST /tls_certificates`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TlsCertificateCreate {
    /// The user's description.
    pub description: Option<String>,
    /// The user's metadata.
    pub metadata: Option<String>,
    /// The chain in PEM, leaf first.
    pub certificate_pem: Option<String>,
    /// The leaf's private key in PEM.
    pub private_key_pem: Option<String>,
}
