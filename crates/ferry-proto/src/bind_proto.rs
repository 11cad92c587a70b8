use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The protocol a tunnel is bound with, as ngrok's Bind `Proto` names it; it also says how
/// the bind's `Opts` read and what each proxy stream's header says. Serialised as the same
/// lower-case word ngrok's wire uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BindProto {
    /// A plain-HTTP endpoint (`http://`).
    Http,
    /// An HTTP endpoint reached over TLS (`https://`) that the edge terminates; what ngrok's
    /// SDKs bind for their default HTTP endpoint.
    Https,
    /// A TCP port; the bytes pass through as they are.
    Tcp,
    /// A TLS endpoint routed by SNI whose TLS passes through the edge untouched.
    Tls,
}

/// A Bind `Proto` that is none of `http`, `https`, `tcp` or `tls`, quoted as sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown protocol {0:?}; expected http, https, tls or tcp")]
pub struct UnknownProto(pub String);

impl BindProto {
    /// The word on the wire: `http`, `https`, `tcp` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }

    /// `http` or `https`: an HTTP endpoint, whose requests the edge reads and whose `Opts`
    /// carry HTTP settings; the two differ only in the public URL's scheme.
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

impl fmt::Display for BindProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exactly the lower-case words ngrok's agents send; any other spelling is unknown.
impl FromStr for BindProto {
    type Err = UnknownProto;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            "tcp" => Ok(Self::Tcp),
            "tls" => Ok(Self::Tls),
            other => Err(UnknownProto(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [BindProto; 4] = [
        BindProto::Http,
        BindProto::Https,
        BindProto::Tcp,
        BindProto::Tls,
    ];

    #[test]
    fn the_wire_word_parses_displays_and_serialises_the_same() {
        for p in ALL {
            assert_eq!(p.as_str().parse::<BindProto>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!(
            "HTTPS".parse::<BindProto>(),
            Err(UnknownProto("HTTPS".into()))
        );
        assert!("".parse::<BindProto>().is_err());
    }
}
