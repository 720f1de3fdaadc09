//! Webhook signatures. Every delivery carries
//! `X-Confab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
//! webhook's secret: the timestamp is signed with the body, so a receiver that refuses
//! old timestamps is safe from replays. Optionally also Disqus's
//! `X-Hub-Signature: sha512=<hex HMAC-SHA512 of the body>`.

use crate::keys::hex;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

fn mac256(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Confab-Signature` value for `body` sent at `t` (unix seconds).
pub fn confab_signature(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex(&mac256(secret, t, body).finalize().into_bytes()))
}

/// The `X-Hub-Signature` value (Disqus's webhook format).
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(body);
    format!("sha512={}", hex(&m.finalize().into_bytes()))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    TooOld,
    Mismatch,
}

/// Checks an `X-Confab-Signature` header as a receiver should: well formed, a timestamp
/// within `tolerance_secs` of `now_secs`, and a matching HMAC (compared in constant time).
pub fn verify_confab_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (t, v1) = t.zip(v1).ok_or(SignatureError::Malformed)?;
    if v1.len() != 64 || !v1.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > tolerance_secs {
        return Err(SignatureError::TooOld);
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&v1[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| SignatureError::Malformed)?;
    mac256(secret, t, body).verify_slice(&bytes).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering_and_replays() {
        let body = br#"{"event":"post.created"}"#;
        let sig = confab_signature("whsec_k", 1_700_000_000, body);
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(verify_confab_signature("whsec_k", &sig, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(verify_confab_signature("whsec_k", &sig, b"{}", 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify_confab_signature("other", &sig, body, 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify_confab_signature("whsec_k", &sig, body, 1_700_001_000, 300), Err(SignatureError::TooOld));
        // The timestamp is signed: moving it breaks the signature.
        let moved = sig.replace("t=1700000000", "t=1700000900");
        assert_eq!(verify_confab_signature("whsec_k", &moved, body, 1_700_001_000, 300), Err(SignatureError::Mismatch));
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1700000000,v1=zz"] {
            assert_eq!(
                verify_confab_signature("whsec_k", bad, body, 1_700_000_000, 300),
                Err(SignatureError::Malformed)
            );
        }
    }

    #[test]
    fn the_hub_signature_is_hmac_sha512_of_the_body() {
        // Checked against: printf '%s' 'hello' | openssl dgst -sha512 -hmac key
        assert_eq!(
            hub_signature("key", b"hello"),
            "sha512=ff06ab36757777815c008d32c8e14a705b4e7bf310351a06a23b612dc4c7433e\
             7757d20525a5593b71020ea2ee162d2311b247e9855862b270122419652c0c92"
        );
    }
}
