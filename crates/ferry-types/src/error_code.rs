use std::fmt;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $ngrok:expr, $status:literal, $title:literal; )*) => {
        /// Every error a user can meet, with a stable, searchable code (`ERR_FERRY_301`).
        ///
        /// The codes are the contract: messages may be reworded, codes never change meaning.
        /// `docs/ERRORS.md` lists them all (a test keeps the two in step). Where ngrok defines a
        /// code for the same failure, [`ErrorCode::ngrok`] names it, so that programs built on
        /// ngrok's SDKs, which branch on `ERR_NGROK_` codes, keep working against Ferry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`ERR_FERRY_", $num, "`: ", $title, ".")]
                $(#[$doc])*
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code in catalogue order, for the checks that keep `docs/ERRORS.md` and the
            /// numbering in step.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The number after `ERR_FERRY_`. The hundreds digit names the area (1 agent
            /// sessions, 2 REST API, 3 binds, 5 certificates, 6 agent API, 8 data path, 9 operations).
            pub fn number(self) -> u32 {
                match self { $(ErrorCode::$variant => $num,)* }
            }

            /// ngrok's code for the same failure, if it has one.
            pub fn ngrok(self) -> Option<&'static str> {
                match self { $(ErrorCode::$variant => $ngrok,)* }
            }

            /// The HTTP status this error maps to when it reaches an HTTP client.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// A short, stable title for pages and catalogues.
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }
        }
    };
}

catalogue! {
    // Agent sessions (100s).
    AuthtokenMissing = 101, Some("ERR_NGROK_105"), 401, "authtoken missing";
    AuthtokenMalformed = 102, Some("ERR_NGROK_105"), 401, "authtoken malformed";
    AuthtokenInvalid = 103, Some("ERR_NGROK_107"), 401, "authtoken invalid";
    ProtocolVersionUnsupported = 105, Some("ERR_NGROK_119"), 400, "protocol version unsupported";
    IngressNotServed = 106, Some("ERR_NGROK_122"), 403, "agent ingress name not served here";
    AuthPayloadInvalid = 107, Some("ERR_NGROK_109"), 400, "auth payload invalid";
    NotAuthenticated = 108, None, 401, "request before authentication";
    HeartbeatTimeout = 109, None, 504, "heartbeat timeout";
    PreAuthLimit = 110, None, 503, "too many agent connections waiting to authenticate";
    MuxProtocolViolation = 111, None, 400, "the agent broke the muxado protocol";

    // The REST API (200s). Where the number matches ngrok's, so does the meaning.
    ApiKeyMissing = 200, None, 401, "API key missing";
    ApiKeyMalformed = 201, Some("ERR_NGROK_207"), 401, "API key malformed";
    ApiKeyInvalid = 202, None, 401, "API key invalid";
    ApiKeyWrongKind = 203, None, 403, "an authtoken is not an API key";
    ContentTypeUnsupported = 210, Some("ERR_NGROK_210"), 415, "content type unsupported";
    BodyUnexpected = 211, Some("ERR_NGROK_211"), 400, "request body not expected";
    JsonMalformed = 212, None, 400, "JSON body malformed";
    FieldUnknown = 214, Some("ERR_NGROK_214"), 400, "unknown field";
    FieldInvalid = 215, Some("ERR_NGROK_215"), 400, "invalid field value";
    ContentTypeMissing = 216, Some("ERR_NGROK_216"), 400, "content type missing";
    VersionUnsupported = 217, Some("ERR_NGROK_217"), 400, "API version unsupported";
    VersionMissing = 218, Some("ERR_NGROK_218"), 400, "Ngrok-Version header missing";
    IdInvalid = 223, Some("ERR_NGROK_223"), 400, "resource ID malformed";
    QueryParamUnknown = 231, Some("ERR_NGROK_231"), 400, "unknown query parameter";
    LimitInvalid = 233, Some("ERR_NGROK_233"), 400, "page limit out of range";
    NotFound = 240, None, 404, "resource not found";
    MethodNotAllowed = 241, None, 405, "method not allowed";
    AlreadyExists = 242, Some("ERR_NGROK_413"), 409, "already reserved or taken";
    UpdateEmpty = 243, Some("ERR_NGROK_422"), 400, "update changes nothing";
    AclRuleInvalid = 244, Some("ERR_NGROK_600"), 400, "ACL rule invalid";
    WildcardPosition = 245, Some("ERR_NGROK_402"), 400, "wildcard not in the first label";
    PemInvalid = 246, None, 400, "PEM input invalid";
    OwnerUnknown = 247, None, 400, "owner unknown";
    NotSupported = 248, None, 400, "operation not supported by Ferry";
    AgentCommandRefused = 249, None, 502, "the agent refused a tunnel-session command";
    AgentCommandTimeout = 250, None, 504, "the agent did not answer a tunnel-session command";
    // Check Status (`POST .../dns_check`): a record's verdict inside a 200 answer, never an
    // error status. The record's `error_code` is ngrok's twin where there is one.
    DnsCnameMissing = 260, Some("ERR_NGROK_425"), 200, "Check Status: the domain's CNAME record is missing";
    DnsCnameIsAddress = 261, Some("ERR_NGROK_426"), 200, "Check Status: an A or AAAA record where the domain's CNAME belongs";
    DnsCnameElsewhere = 262, Some("ERR_NGROK_427"), 200, "Check Status: the domain's CNAME record points elsewhere";
    DnsCnameSuffixDoubled = 263, Some("ERR_NGROK_425"), 200, "Check Status: the domain's CNAME record was created under the zone twice";
    DnsAcmeCnameMissing = 264, Some("ERR_NGROK_442"), 200, "Check Status: the ACME challenge CNAME record is missing";
    DnsAcmeCnameIsAddress = 265, Some("ERR_NGROK_443"), 200, "Check Status: an A or AAAA record where the ACME challenge CNAME belongs";
    DnsAcmeCnameElsewhere = 266, Some("ERR_NGROK_444"), 200, "Check Status: the ACME challenge CNAME record points elsewhere";
    DnsAcmeCnameSuffixDoubled = 267, Some("ERR_NGROK_442"), 200, "Check Status: the ACME challenge CNAME record was created under the zone twice";
    DnsNsMissing = 268, Some("ERR_NGROK_6702"), 200, "Check Status: the agent ingress domain has no NS records";
    DnsNsDiffers = 269, Some("ERR_NGROK_6703"), 200, "Check Status: the agent ingress domain's NS records differ from its ns_targets";
    DnsResolverFailed = 270, None, 200, "Check Status: the DNS resolver gave no usable answer";
    // The dashboard (served from the API listener): a write refused before it is tried.
    DashboardCsrfRefused = 280, None, 403, "dashboard form without its session's CSRF token";
    DashboardFormTooLarge = 281, None, 413, "dashboard form too large";
    // The store, named by what an operator can do about it (room, write access, the database
    // back); everything else stays `Internal`.
    StoreDiskFull = 290, None, 507, "the store's disk is full";
    StoreReadOnly = 291, None, 503, "the store is read-only";
    StoreUnavailable = 292, None, 503, "the store is unavailable";
    Internal = 299, None, 500, "internal error";

    // Binds (300s).
    BindPayloadInvalid = 301, Some("ERR_NGROK_301"), 400, "bind payload invalid";
    ProtoUnknown = 302, Some("ERR_NGROK_332"), 400, "unknown protocol";
    EndpointTaken = 303, Some("ERR_NGROK_334"), 409, "endpoint already online";
    DomainMalformed = 304, Some("ERR_NGROK_326"), 400, "malformed domain";
    TcpAddrUnavailable = 305, Some("ERR_NGROK_307"), 409, "TCP address unavailable";
    LabeledUnsupported = 306, Some("ERR_NGROK_395"), 400, "labeled tunnels unsupported";
    BindTokenInvalid = 307, Some("ERR_NGROK_335"), 400, "bind token invalid";
    TunnelLimit = 308, None, 429, "too many tunnels in one session";
    DomainRequired = 309, None, 400, "domain required";
    ReservationCheckFailed = 310, None, 503, "reservations cannot be checked";
    AddrNotReserved = 311, Some("ERR_NGROK_307"), 403, "TCP address not reserved";
    MutualTlsCaInvalid = 312, None, 400, "mutual_tls_cas unusable";
    EdgeTerminationInvalid = 313, None, 400, "TLS termination at the edge unusable";
    NameClaimFailed = 314, None, 503, "the cluster's claims on names cannot be reached";
    AclDenied = 316, Some("ERR_NGROK_316"), 403, "bind not allowed by the authtoken's ACL";
    WildcardNotReserved = 318, Some("ERR_NGROK_318"), 403, "wildcard domain not reserved";
    DomainNotReserved = 319, Some("ERR_NGROK_319"), 403, "domain not reserved";

    // Certificates and agent configuration (500s).
    FileUnreadable = 501, None, 400, "file unreadable";
    FileWrongKind = 502, None, 400, "file of the wrong kind";
    CertificateDefective = 503, None, 400, "certificate defective";
    TerminationNeedsCertificate = 504, None, 400, "TLS termination needs crt and key together";
    KeyMismatch = 505, None, 400, "key does not match certificate";
    UpstreamAddrInvalid = 506, None, 400, "upstream address invalid";

    // The agent API (600s).
    ApiNotFound = 600, None, 404, "agent API: no such tunnel or request";
    ApiInvalidTunnel = 601, None, 400, "agent API: invalid tunnel configuration";
    ApiMalformedJson = 602, None, 400, "agent API: malformed JSON body";
    ApiTunnelStartFailed = 603, None, 502, "agent API: the edge refused or could not start the tunnel";
    ApiTunnelNameTaken = 604, None, 409, "agent API: tunnel name already in use";
    ApiHostNotAllowed = 605, None, 403, "agent API: Host header not allowed (DNS rebinding protection)";
    ApiReplayFailed = 606, None, 400, "agent API: replay failed";

    // The data path (800s).
    EndpointNotFound = 801, Some("ERR_NGROK_3200"), 404, "no endpoint for this host";
    AgentOffline = 802, Some("ERR_NGROK_3200"), 502, "the agent serving this endpoint is offline";
    UpstreamTimeout = 803, Some("ERR_NGROK_3004"), 504, "the upstream did not answer in time";
    UpstreamUnreachable = 804, Some("ERR_NGROK_8012"), 502, "the agent could not reach the upstream";
    StreamLimit = 805, None, 503, "too many concurrent connections through this agent";
    Draining = 806, None, 503, "the edge is shutting down";
    UpstreamBadResponse = 807, Some("ERR_NGROK_3004"), 502, "the upstream sent an invalid response";
    RequestHeaderTooLarge = 808, None, 431, "request headers too large";
    ClientCertificateRequired = 809, None, 403, "a client certificate is required";
    AuthenticationRequired = 810, None, 401, "authentication required";
    NodeUnreachable = 811, None, 502, "the node serving this endpoint cannot be reached";

    // Operations (900s).
    /// SIGUSR2 started no successor that became ready: it could not be started, exited, or
    /// took too long. The running edge keeps serving; its log says why.
    UpgradeFailed = 950, None, 500, "an upgrade in place failed";
}

impl ErrorCode {
    /// The code as users see and search for it: `ERR_FERRY_301`.
    pub fn as_string(self) -> String {
        format!("ERR_FERRY_{}", self.number())
    }

    /// Text for an agent on the wire: the message, then the Ferry code and (where it exists)
    /// the ngrok code, each on its own line. ngrok's SDKs lift a line that begins with
    /// `ERR_NGROK_` into `error_code()` and keep the rest, `ERR_FERRY_` line included, as the
    /// message the user sees.
    pub fn wire_error(self, msg: &str) -> String {
        match self.ngrok() {
            Some(ngrok) => format!("{msg}\n\n{self}\n{ngrok}\n"),
            None => format!("{msg}\n\n{self}\n"),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERR_FERRY_{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_are_unique() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.number()), "duplicate {c}");
        }
    }

    #[test]
    fn catalogue_document_lists_every_code() {
        let doc = include_str!("../../../docs/ERRORS.md");
        for c in ErrorCode::ALL {
            assert!(doc.contains(&format!("`{c}`")), "docs/ERRORS.md misses {c}");
        }
    }

    #[test]
    fn wire_error_puts_codes_on_their_own_lines() {
        let s = ErrorCode::AuthtokenInvalid.wire_error("the authtoken is not valid");
        let lines: Vec<_> = s.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            [
                "the authtoken is not valid",
                "ERR_FERRY_103",
                "ERR_NGROK_107"
            ]
        );
    }
}
