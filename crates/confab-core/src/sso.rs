//! Single sign-on payloads: a site vouches for its own signed-in user, signed with the
//! forum's secret key, and the widget passes the payload along with each write.
//!
//! Two formats:
//! - **Disqus `remote_auth_s3`**, exactly as Disqus sites generate it:
//!   `base64(JSON user) + " " + hex(HMAC-SHA1(secret, message + " " + timestamp)) + " " + timestamp`,
//!   with `timestamp` in Unix seconds and the user `{id, username, email, avatar, url}`.
//!   The empty object `{}` means "logged out".
//! - **HS256 JWT** (RFC 7519), for sites that already mint JWTs: claims `sub` (or `id`),
//!   `username` (or `name`), `email`, `avatar` (or `picture`), `url`, and `iat` (required,
//!   the signing time) and optionally `exp`.
//!
//! Verification is written here rather than with a JWT library: only HS256 is accepted
//! (the `alg` is pinned, so `none` and algorithm confusion cannot arise), it is a dozen
//! lines over `hmac`, and a general JWT crate would add a native crypto library to the
//! build for nothing else. Signatures are checked in constant time (`Mac::verify_slice`).
//!
//! A payload is a bearer credential for its lifetime: it is refused once older than the
//! forum's maximum age, when signed more than [`MAX_CLOCK_SKEW_SECS`] in the future, and
//! in every other forum (each forum has its own secret).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;
use sha2::Sha256;

use crate::input::{DisplayName, Email, InputError, WebUrl};
use crate::model::UnixMs;

/// Longest payload accepted (the JSON of a user with long URLs, base64-encoded).
pub const MAX_PAYLOAD_CHARS: usize = 8 * 1024;
/// Longest user id a site may use.
pub const MAX_SSO_ID_CHARS: usize = 255;
/// How far in the future a signing time may be (clocks disagree a little).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The user a site vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoUser {
    /// The site's own id for the user; unique within the forum only.
    pub id: String,
    pub name: DisplayName,
    pub email: Option<Email>,
    pub avatar: Option<WebUrl>,
    pub url: Option<WebUrl>,
}

/// What a valid payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoIdentity {
    User(SsoUser),
    /// The site says nobody is signed in (`{}`).
    LoggedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("the SSO payload is malformed: {0}")]
    Malformed(&'static str),
    #[error("the SSO payload's signature does not match this forum's secret key")]
    BadSignature,
    #[error("the SSO payload has expired: sign a new one")]
    Expired,
    #[error("the SSO payload is signed in the future")]
    FromTheFuture,
    #[error("the SSO user is invalid: {0}")]
    InvalidUser(InputError),
}

#[derive(Deserialize, Default)]
struct Claims {
    id: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    username: Option<String>,
    name: Option<String>,
    email: Option<String>,
    avatar: Option<String>,
    picture: Option<String>,
    url: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
}

/// A user id as sites send it: a string or a number.
fn id_string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Claims {
    fn is_empty(&self) -> bool {
        self.id.is_none() && self.sub.is_none() && self.username.is_none() && self.name.is_none()
    }

    fn user(self) -> Result<SsoUser, SsoError> {
        let id = self
            .sub
            .as_ref()
            .or(self.id.as_ref())
            .and_then(id_string)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SSO_ID_CHARS && !s.contains('\0'))
            .ok_or(SsoError::Malformed("the user needs an id (a string or number, 1-255 characters)"))?;
        let name = self.username.or(self.name).ok_or(SsoError::Malformed("the user needs a username"))?;
        let name = DisplayName::parse("sso.username", &name).map_err(SsoError::InvalidUser)?;
        let opt = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        let email = opt(self.email).map(|e| Email::parse(&e)).transpose().map_err(SsoError::InvalidUser)?;
        let avatar = opt(self.avatar.or(self.picture))
            .map(|u| WebUrl::parse("sso.avatar", &u))
            .transpose()
            .map_err(SsoError::InvalidUser)?;
        let url = opt(self.url).map(|u| WebUrl::parse("sso.url", &u)).transpose().map_err(SsoError::InvalidUser)?;
        Ok(SsoUser { id, name, email, avatar, url })
    }
}

fn check_age(signed_at_secs: i64, now: UnixMs, max_age_secs: u64) -> Result<(), SsoError> {
    // In i128, where no i64 time or u64 age can overflow: a timestamp of -2^63 once
    // wrapped `now - signed_at` around to a negative age and was accepted.
    let (signed_at, now_secs) = (i128::from(signed_at_secs), i128::from(now.div_euclid(1000)));
    if signed_at > now_secs + i128::from(MAX_CLOCK_SKEW_SECS) {
        return Err(SsoError::FromTheFuture);
    }
    if now_secs - signed_at > i128::from(max_age_secs) {
        return Err(SsoError::Expired);
    }
    Ok(())
}

/// Verifies a payload in either format against the forum's secret key.
pub fn verify(payload: &str, secret: &[u8], now: UnixMs, max_age_secs: u64) -> Result<SsoIdentity, SsoError> {
    let payload = payload.trim();
    if payload.is_empty() || payload.len() > MAX_PAYLOAD_CHARS {
        return Err(SsoError::Malformed("empty or longer than 8 KiB"));
    }
    if payload.contains(' ') {
        verify_disqus(payload, secret, now, max_age_secs)
    } else {
        verify_jwt(payload, secret, now, max_age_secs)
    }
}

fn verify_disqus(payload: &str, secret: &[u8], now: UnixMs, max_age_secs: u64) -> Result<SsoIdentity, SsoError> {
    let mut parts = payload.split(' ');
    let (Some(message), Some(sig), Some(timestamp), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SsoError::Malformed("expected \"<message> <signature> <timestamp>\""));
    };
    let sig = decode_hex(sig).ok_or(SsoError::Malformed("the signature is not hex"))?;
    let ts: i64 = timestamp.parse().map_err(|_| SsoError::Malformed("the timestamp is not a number"))?;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac.update(b" ");
    mac.update(timestamp.as_bytes());
    mac.verify_slice(&sig).map_err(|_| SsoError::BadSignature)?;
    // Signed by the forum's key: only now is the content worth reading.
    check_age(ts, now, max_age_secs)?;
    let json = STANDARD.decode(message).map_err(|_| SsoError::Malformed("the message is not base64"))?;
    let claims: Claims =
        serde_json::from_slice(&json).map_err(|_| SsoError::Malformed("the message is not a JSON user"))?;
    if claims.is_empty() { Ok(SsoIdentity::LoggedOut) } else { claims.user().map(SsoIdentity::User) }
}

fn verify_jwt(payload: &str, secret: &[u8], now: UnixMs, max_age_secs: u64) -> Result<SsoIdentity, SsoError> {
    let mut parts = payload.split('.');
    let (Some(header), Some(claims), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SsoError::Malformed("neither a remote_auth_s3 payload nor a JWT"));
    };
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(SsoError::Malformed("the JWT header is not base64url JSON"))?;
    if header.alg != "HS256" {
        return Err(SsoError::Malformed("only HS256 JWTs are accepted"));
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| SsoError::Malformed("the JWT signature is not base64url"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&payload.as_bytes()[..payload.rfind('.').expect("three parts")]);
    mac.verify_slice(&sig).map_err(|_| SsoError::BadSignature)?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or(SsoError::Malformed("the JWT claims are not base64url JSON"))?;
    let iat = claims.iat.ok_or(SsoError::Malformed("the JWT needs iat (issued-at, Unix seconds)"))?;
    check_age(iat, now, max_age_secs)?;
    if claims.exp.is_some_and(|exp| exp <= now.div_euclid(1000)) {
        return Err(SsoError::Expired);
    }
    if claims.is_empty() { Ok(SsoIdentity::LoggedOut) } else { claims.user().map(SsoIdentity::User) }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Signs a Disqus-format payload (for tests, the demo and sites' documentation).
pub fn sign_disqus(user_json: &str, secret: &[u8], timestamp_secs: i64) -> String {
    let message = STANDARD.encode(user_json);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{message} {timestamp_secs}").as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("{message} {sig} {timestamp_secs}")
}

/// Signs an HS256 JWT with the given claims (for tests and documentation).
pub fn sign_jwt(claims_json: &str, secret: &[u8]) -> String {
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#), URL_SAFE_NO_PAD.encode(claims_json));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"sk_forum_a_secret";
    const NOW: UnixMs = 1_800_000_000_000;
    const T: i64 = 1_800_000_000;

    #[test]
    fn extreme_timestamps_are_refused_not_wrapped_around() {
        for ts in [i64::MIN, i64::MIN + 1, -1, 0, T - 7201] {
            let disqus = sign_disqus(r#"{"id":"1","username":"A"}"#, SECRET, ts);
            assert!(matches!(verify(&disqus, SECRET, NOW, 7200), Err(SsoError::Expired)), "{ts}");
            let jwt = sign_jwt(&format!(r#"{{"sub":"1","name":"A","iat":{ts}}}"#), SECRET);
            assert!(matches!(verify(&jwt, SECRET, NOW, 7200), Err(SsoError::Expired)), "{ts}");
        }
        for ts in [i64::MAX, i64::MAX - 1, T + MAX_CLOCK_SKEW_SECS + 1] {
            let disqus = sign_disqus(r#"{"id":"1","username":"A"}"#, SECRET, ts);
            assert!(matches!(verify(&disqus, SECRET, NOW, 7200), Err(SsoError::FromTheFuture)), "{ts}");
        }
        // The largest ages and clocks do not overflow either.
        let disqus = sign_disqus(r#"{"id":"1","username":"A"}"#, SECRET, i64::MIN);
        assert!(verify(&disqus, SECRET, i64::MAX, u64::MAX).is_ok());
        assert!(matches!(verify(&disqus, SECRET, i64::MAX, 7200), Err(SsoError::Expired)));
    }

    fn user(json: &str) -> SsoUser {
        match verify(&sign_disqus(json, SECRET, T), SECRET, NOW, 7200).unwrap() {
            SsoIdentity::User(u) => u,
            other => panic!("{other:?}"),
        }
    }

    /// A payload computed independently, as Disqus's own PHP example does:
    /// `$message = base64_encode(json_encode($data)); $hmac = hash_hmac('sha1', "$message $timestamp", SECRET);`
    #[test]
    fn matches_the_disqus_reference_computation() {
        let json = r#"{"id":"42","username":"Ann","email":"ann@example.com"}"#;
        let message = "eyJpZCI6IjQyIiwidXNlcm5hbWUiOiJBbm4iLCJlbWFpbCI6ImFubkBleGFtcGxlLmNvbSJ9";
        assert_eq!(STANDARD.encode(json), message);
        // printf '%s' "$message 1800000000" | openssl dgst -sha1 -hmac sk_forum_a_secret
        let payload = sign_disqus(json, SECRET, T);
        assert_eq!(payload, format!("{message} bf12f758458b89268c92141157a18adddd4319fa {T}"));
        let u = user(json);
        assert_eq!((u.id.as_str(), u.name.as_str()), ("42", "Ann"));
        assert_eq!(u.email.unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn refuses_forged_expired_future_and_foreign_payloads() {
        let json = r#"{"id":1,"username":"Ann"}"#;
        let good = sign_disqus(json, SECRET, T);
        assert!(verify(&good, SECRET, NOW, 7200).is_ok());
        assert_eq!(verify(&good, b"another forum's key", NOW, 7200), Err(SsoError::BadSignature));
        // Tampering with any part breaks the signature.
        let (msg, rest) = good.split_once(' ').unwrap();
        let other_user = STANDARD.encode(r#"{"id":2,"username":"Mallory"}"#);
        assert_eq!(verify(&format!("{other_user} {rest}"), SECRET, NOW, 7200), Err(SsoError::BadSignature));
        let (sig, _) = rest.split_once(' ').unwrap();
        assert_eq!(verify(&format!("{msg} {sig} {}", T + 1), SECRET, NOW, 7200), Err(SsoError::BadSignature));
        // Age: exactly the maximum passes, a second more does not.
        assert!(verify(&good, SECRET, NOW + 7_200_000, 7200).is_ok());
        assert_eq!(verify(&good, SECRET, NOW + 7_201_000, 7200), Err(SsoError::Expired));
        let future = sign_disqus(json, SECRET, T + MAX_CLOCK_SKEW_SECS + 1);
        assert_eq!(verify(&future, SECRET, NOW, 7200), Err(SsoError::FromTheFuture));
        for junk in ["", "one", "a b", "a b c d", "a zz 1", "a 00 x", &"a ".repeat(5000)] {
            assert!(matches!(verify(junk, SECRET, NOW, 7200), Err(SsoError::Malformed(_))), "{junk:?}");
        }
    }

    #[test]
    fn the_empty_object_means_logged_out() {
        assert_eq!(verify(&sign_disqus("{}", SECRET, T), SECRET, NOW, 7200), Ok(SsoIdentity::LoggedOut));
    }

    #[test]
    fn users_are_checked_like_any_input() {
        let bad = |json: &str| verify(&sign_disqus(json, SECRET, T), SECRET, NOW, 7200);
        assert!(matches!(bad(r#"{"username":"NoId"}"#), Err(SsoError::Malformed(_))));
        assert!(matches!(bad(r#"{"id":"1"}"#), Err(SsoError::Malformed(_))));
        assert!(matches!(bad(r#"{"id":"1","username":"A","email":"nope"}"#), Err(SsoError::InvalidUser(_))));
        assert!(matches!(
            bad(r#"{"id":"1","username":"A","avatar":"javascript:alert(1)"}"#),
            Err(SsoError::InvalidUser(_))
        ));
        assert!(matches!(bad(r#"{"id":[1],"username":"A"}"#), Err(SsoError::Malformed(_))));
        assert!(matches!(bad("[1,2]"), Err(SsoError::Malformed(_))));
        let u = user(r#"{"id":"7","username":"Bo","avatar":"https://cdn.example/bo.png","url":"https://bo.example"}"#);
        assert_eq!(u.avatar.unwrap().as_str(), "https://cdn.example/bo.png");
        assert_eq!(u.url.unwrap().as_str(), "https://bo.example");
    }

    #[test]
    fn hs256_jwts_are_verified_with_the_algorithm_pinned() {
        let claims = format!(r#"{{"sub":"u-9","name":"Cy","picture":"https://cdn.example/c.png","iat":{T}}}"#);
        let jwt = sign_jwt(&claims, SECRET);
        match verify(&jwt, SECRET, NOW, 7200).unwrap() {
            SsoIdentity::User(u) => assert_eq!((u.id.as_str(), u.name.as_str()), ("u-9", "Cy")),
            other => panic!("{other:?}"),
        }
        assert_eq!(verify(&jwt, b"wrong", NOW, 7200), Err(SsoError::BadSignature));
        assert_eq!(verify(&jwt, SECRET, NOW + 7_201_000, 7200), Err(SsoError::Expired));
        let expired = sign_jwt(&format!(r#"{{"sub":"u","name":"C","iat":{T},"exp":{}}}"#, T - 1), SECRET);
        assert_eq!(verify(&expired, SECRET, NOW, 7200), Err(SsoError::Expired));
        let no_iat = sign_jwt(r#"{"sub":"u","name":"C"}"#, SECRET);
        assert!(matches!(verify(&no_iat, SECRET, NOW, 7200), Err(SsoError::Malformed(_))));
        // alg=none and other algorithms are refused whatever the signature.
        let parts: Vec<&str> = jwt.split('.').collect();
        for alg in ["none", "HS512", "RS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let forged = format!("{header}.{}.{}", parts[1], parts[2]);
            assert!(matches!(verify(&forged, SECRET, NOW, 7200), Err(SsoError::Malformed(_))), "{alg}");
            assert!(matches!(
                verify(&format!("{header}.{}.", parts[1]), SECRET, NOW, 7200),
                Err(SsoError::Malformed(_))
            ));
        }
        let logged_out = sign_jwt(&format!(r#"{{"iat":{T}}}"#), SECRET);
        assert_eq!(verify(&logged_out, SECRET, NOW, 7200), Ok(SsoIdentity::LoggedOut));
    }
}
