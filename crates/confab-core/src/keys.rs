//! Content keys every store computes the same way, so that data written by one backend
//! means the same in another (and an export/import keeps duplicates recognisable).

use sha2::{Digest, Sha256};

use crate::model::GuestAuthor;

/// Lowercase hex of `bytes` (digests and MACs in headers, tags and links).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the text lowercased with its whitespace collapsed: the same comment
/// posted again, whatever its spacing or case, has the same hash.
pub fn text_hash(text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(word.to_lowercase().as_bytes());
    }
    h.finalize().into()
}

/// The same guest details always map to the same author row: a length-prefixed hash
/// of name, email and url.
pub fn guest_key(a: &GuestAuthor) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [Some(a.name.as_str()), a.email.as_ref().map(|e| e.as_str()), a.url.as_ref().map(|u| u.as_str())] {
        let part = part.unwrap_or("");
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hash_ignores_case_and_spacing_only() {
        assert_eq!(text_hash("Buy  NOW\n cheap"), text_hash("buy now cheap"));
        assert_ne!(text_hash("buy now cheap"), text_hash("buy now cheaper"));
    }
}
