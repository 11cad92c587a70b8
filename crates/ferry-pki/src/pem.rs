//! A PEM reader that keeps every block, whatever its label.
//!
//! Ordinary PEM readers skip labels they do not use, so a file holding only an
//! "ENCRYPTED PRIVATE KEY" or a legacy `Proc-Type: 4,ENCRYPTED` key looks like an empty file to
//! them. To say what a wrong file *is*, Ferry needs every label, the encryption headers and the
//! order of the blocks, so it reads PEM itself (RFC 7468, plus RFC 1421 headers).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// One `-----BEGIN X-----` ... `-----END X-----` block.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) label: String,
    /// Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`), which keeps the plain label.
    pub(crate) proc_type_encrypted: bool,
    pub(crate) der: Vec<u8>,
    /// 1-based line of the BEGIN line, for messages.
    pub(crate) line: usize,
}

/// What a block holds, judged by its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Certificate,
    Key(KeyFormat),
    EncryptedKey,
    /// A key format Ferry does not read (OpenSSH, DSA...).
    ForeignKey,
    Csr,
    PublicKey,
    Crl,
    /// Blocks that travel alongside a key and mean nothing alone ("EC PARAMETERS").
    Parameters,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFormat {
    Pkcs8,
    Pkcs1,
    Sec1,
}

impl Block {
    pub(crate) fn kind(&self) -> Kind {
        if self.proc_type_encrypted && self.label.ends_with("PRIVATE KEY") {
            return Kind::EncryptedKey;
        }
        match self.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Kind::Certificate,
            "PRIVATE KEY" => Kind::Key(KeyFormat::Pkcs8),
            "RSA PRIVATE KEY" => Kind::Key(KeyFormat::Pkcs1),
            "EC PRIVATE KEY" => Kind::Key(KeyFormat::Sec1),
            "ENCRYPTED PRIVATE KEY" => Kind::EncryptedKey,
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Kind::Csr,
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Kind::PublicKey,
            "X509 CRL" => Kind::Crl,
            "EC PARAMETERS" | "DH PARAMETERS" => Kind::Parameters,
            l if l.ends_with("PRIVATE KEY") => Kind::ForeignKey,
            _ => Kind::Other,
        }
    }

    /// The block as a user would name it, for "FILE holds ..., not ...".
    pub(crate) fn describe(&self) -> String {
        match self.kind() {
            Kind::Certificate => "a certificate".to_owned(),
            Kind::Key(_) => "a private key".to_owned(),
            Kind::EncryptedKey => "an encrypted private key".to_owned(),
            Kind::ForeignKey => format!(
                "a private key in a format Ferry does not read ({:?})",
                self.label
            ),
            Kind::Csr => "a certificate signing request (CSR)".to_owned(),
            Kind::PublicKey => "a public key".to_owned(),
            Kind::Crl => "a certificate revocation list".to_owned(),
            Kind::Parameters | Kind::Other => format!("a PEM block labelled {:?}", self.label),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PemError {
    Unterminated { label: String, line: usize },
    BadBase64 { label: String, line: usize },
}

impl PemError {
    pub(crate) fn what(&self) -> String {
        match self {
            PemError::Unterminated { label, line } | PemError::BadBase64 { label, line } => {
                format!("the PEM block {label:?} at line {line}")
            }
        }
    }

    pub(crate) fn reason(&self) -> String {
        match self {
            PemError::Unterminated { label, .. } => {
                format!("it has no \"-----END {label}-----\" line (the file may be truncated)")
            }
            PemError::BadBase64 { .. } => {
                "its body is not valid base64 (the file may have been edited or truncated)"
                    .to_owned()
            }
        }
    }
}

/// Every PEM block in `bytes`, in order. Text outside blocks is ignored, as OpenSSL does (it
/// prints certificate dumps above the PEM); no blocks at all yields an empty list.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Block>, PemError> {
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = trim(raw);
        match open.as_mut() {
            None => {
                if let Some(label) = marker(line, b"-----BEGIN ") {
                    open = Some(Open::new(label, index + 1));
                }
            }
            Some(block) => {
                if let Some(label) = marker(line, b"-----END ") {
                    if label == block.label {
                        if let Some(done) = open.take() {
                            blocks.push(done.finish()?);
                        }
                    }
                    continue;
                }
                block.push(line);
            }
        }
    }
    match open {
        Some(block) => Err(PemError::Unterminated {
            label: block.label,
            line: block.line,
        }),
        None => Ok(blocks),
    }
}

struct Open {
    label: String,
    line: usize,
    in_headers: bool,
    encrypted: bool,
    body: Vec<u8>,
}

impl Open {
    fn new(label: String, line: usize) -> Open {
        Open {
            label,
            line,
            in_headers: true,
            encrypted: false,
            body: Vec::new(),
        }
    }

    fn push(&mut self, line: &[u8]) {
        if self.in_headers {
            // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED", "DEK-Info: ...") come first and
            // contain a colon, which base64 never does.
            if line.contains(&b':') {
                let text = String::from_utf8_lossy(line);
                if text.starts_with("Proc-Type:") && text.contains("ENCRYPTED") {
                    self.encrypted = true;
                }
                return;
            }
            if !line.is_empty() {
                self.in_headers = false;
            }
        }
        self.body
            .extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
    }

    fn finish(self) -> Result<Block, PemError> {
        let der = STANDARD
            .decode(&self.body)
            .map_err(|_| PemError::BadBase64 {
                label: self.label.clone(),
                line: self.line,
            })?;
        Ok(Block {
            label: self.label,
            proc_type_encrypted: self.encrypted,
            der,
            line: self.line,
        })
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// The label of a `-----BEGIN LABEL-----` (or END) line.
fn marker(line: &[u8], prefix: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(prefix)?.strip_suffix(b"-----")?;
    let label = std::str::from_utf8(rest).ok()?;
    Some(label.trim().to_owned())
}

/// Encodes DER as PEM with 64-column lines, as every tool expects.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_label_in_order_with_surrounding_text() {
        let text = format!(
            "subject=CN = x\n{}junk between\n{}",
            encode("CERTIFICATE", b"abc"),
            encode("ENCRYPTED PRIVATE KEY", b"defg")
        );
        let blocks = parse(text.as_bytes()).expect("well-formed input");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].kind(), Kind::Certificate);
        assert_eq!(blocks[0].der, b"abc");
        assert_eq!(blocks[0].line, 2);
        assert_eq!(blocks[1].kind(), Kind::EncryptedKey);
        assert_eq!(blocks[1].der, b"defg");
    }

    #[test]
    fn legacy_encryption_headers_mark_the_key_encrypted() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n\
                    DEK-Info: AES-128-CBC,00\r\n\r\nYWJj\r\n-----END RSA PRIVATE KEY-----\r\n";
        let blocks = parse(text.as_bytes()).expect("well-formed input");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind(), Kind::EncryptedKey);
        assert_eq!(blocks[0].der, b"abc");
    }

    #[test]
    fn truncated_and_corrupt_blocks_are_errors() {
        assert_eq!(
            parse(b"-----BEGIN CERTIFICATE-----\nYWJj\n"),
            Err(PemError::Unterminated {
                label: "CERTIFICATE".into(),
                line: 1
            })
        );
        assert!(matches!(
            parse(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            Err(PemError::BadBase64 { .. })
        ));
    }

    #[test]
    fn no_blocks_is_an_empty_list() {
        assert!(parse(b"hello\nworld\n").expect("text").is_empty());
        assert!(parse(&[0x30, 0x82, 0x01, 0x00, 0xff])
            .expect("binary")
            .is_empty());
    }
}
