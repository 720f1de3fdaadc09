//! Secrets: random tokens, their stored hashes, and constant-time comparison.
//!
//! Tokens (admin, edit, voter) are 32 random bytes shown to their holder once, as
//! base64url. Only their SHA-256 is stored, so a leaked database grants nothing, and
//! they are compared in constant time so response timing reveals nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer token as handed to a client. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a token presented by a client. Tokens are opaque: only shape is checked
    /// (16–128 URL-safe characters), so a stray header cannot smuggle anything.
    pub fn from_client(s: &str) -> Option<Self> {
        let ok =
            (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Token(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored in place of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// SHA-256 of a token, as stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(TokenHash)
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// 32 random bytes, e.g. for keys that sign cursors.
pub fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_and_match() {
        let t = Token::generate();
        assert_eq!(t.expose().len(), 43);
        assert!(t.hash().matches(&Token::from_client(t.expose()).unwrap().hash()));
        assert!(!t.hash().matches(&Token::generate().hash()));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn client_tokens_are_shape_checked() {
        assert!(Token::from_client("short").is_none());
        assert!(Token::from_client("has spaces in it ....").is_none());
        assert!(Token::from_client(&"a".repeat(129)).is_none());
        assert!(Token::from_client("abcdefghijklmnop_-12").is_some());
    }
}
