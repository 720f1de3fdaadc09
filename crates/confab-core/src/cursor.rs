//! Opaque keyset cursors.
//!
//! A cursor is the sort key of the last item a client saw, bound to the list it came
//! from (the thread for roots, the node for replies) and to the sort, and signed with
//! a server key (HMAC-SHA256, truncated to 12 bytes). Clients cannot forge one, move
//! one to another thread or sort, or make the server run an arbitrary range scan;
//! anything that fails a check is a [`CursorError`] and a 400 at the edge.
//!
//! Wire form: base64url (no padding) of
//! `version(1) | kind(1) | scope id(8) | payload | mac(12)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::id::Id;
use crate::model::Sort;

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const KIND_REPLIES: u8 = 10;
/// Longest cursor accepted, in characters: a reply path [`crate::model::MAX_DEPTH`]
/// levels deep fits (2,056 bytes of path, 2,771 characters of base64).
pub const MAX_CURSOR_CHARS: usize = 4_096;

/// Position after the last root a client saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RootCursor {
    /// The stored score (`best`/`hot`); 0 for `newest`/`oldest`, which order by id.
    pub score: f64,
    pub id: Id,
}

/// Position after the last reply a client saw under a node: that reply's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyCursor {
    pub path: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is malformed")]
    Malformed,
    #[error("the cursor was altered or was not issued by this server")]
    Tampered,
    #[error("the cursor belongs to another list or sort")]
    Mismatch,
}

/// Signs and checks cursors with one server key.
#[derive(Clone)]
pub struct CursorCodec {
    key: [u8; 32],
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

fn sort_kind(sort: Sort) -> u8 {
    match sort {
        Sort::Newest => 1,
        Sort::Oldest => 2,
        Sort::Best => 3,
        Sort::Hot => 4,
    }
}

impl CursorCodec {
    pub fn new(key: [u8; 32]) -> Self {
        CursorCodec { key }
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length works");
        m.update(body);
        let full = m.finalize().into_bytes();
        full[..MAC_LEN].try_into().expect("sha256 is longer than the mac")
    }

    fn seal(&self, kind: u8, scope: Id, payload: &[u8]) -> String {
        let mut body = Vec::with_capacity(10 + payload.len() + MAC_LEN);
        body.push(VERSION);
        body.push(kind);
        body.extend_from_slice(&scope.to_be_bytes());
        body.extend_from_slice(payload);
        let mac = self.mac(&body);
        body.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(body)
    }

    /// Checks a cursor and returns its payload.
    fn open(&self, kind: u8, scope: Id, text: &str) -> Result<Vec<u8>, CursorError> {
        if text.is_empty() || text.len() > MAX_CURSOR_CHARS {
            return Err(CursorError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Malformed)?;
        if raw.len() < 10 + MAC_LEN || raw[0] != VERSION {
            return Err(CursorError::Malformed);
        }
        let (body, mac) = raw.split_at(raw.len() - MAC_LEN);
        if !bool::from(self.mac(body).ct_eq(mac)) {
            return Err(CursorError::Tampered);
        }
        if body[1] != kind || body[2..10] != scope.to_be_bytes() {
            return Err(CursorError::Mismatch);
        }
        Ok(body[10..].to_vec())
    }

    pub fn encode_root(&self, thread: Id, sort: Sort, c: RootCursor) -> String {
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&c.score.to_bits().to_be_bytes());
        payload[8..].copy_from_slice(&c.id.to_be_bytes());
        self.seal(sort_kind(sort), thread, &payload)
    }

    pub fn decode_root(&self, thread: Id, sort: Sort, text: &str) -> Result<RootCursor, CursorError> {
        let p = self.open(sort_kind(sort), thread, text)?;
        let p: [u8; 16] = p.try_into().map_err(|_| CursorError::Malformed)?;
        let score = f64::from_bits(u64::from_be_bytes(p[..8].try_into().expect("8 bytes")));
        let id = Id::from_raw(u64::from_be_bytes(p[8..].try_into().expect("8 bytes"))).ok_or(CursorError::Malformed)?;
        if !score.is_finite() {
            return Err(CursorError::Malformed);
        }
        Ok(RootCursor { score, id })
    }

    pub fn encode_replies(&self, node: Id, c: &ReplyCursor) -> String {
        self.seal(KIND_REPLIES, node, &c.path)
    }

    pub fn decode_replies(&self, node: Id, text: &str) -> Result<ReplyCursor, CursorError> {
        let path = self.open(KIND_REPLIES, node, text)?;
        if path.is_empty() || path.len() % 8 != 0 {
            return Err(CursorError::Malformed);
        }
        Ok(ReplyCursor { path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u64) -> Id {
        Id::from_raw(n).unwrap()
    }

    #[test]
    fn cursors_are_bound_to_scope_sort_and_key() {
        let c = CursorCodec::new([7; 32]);
        let cur = RootCursor { score: 0.25, id: id(99) };
        let s = c.encode_root(id(1), Sort::Best, cur);
        assert_eq!(c.decode_root(id(1), Sort::Best, &s).unwrap(), cur);
        assert_eq!(c.decode_root(id(2), Sort::Best, &s), Err(CursorError::Mismatch));
        assert_eq!(c.decode_root(id(1), Sort::Hot, &s), Err(CursorError::Mismatch));
        assert_eq!(CursorCodec::new([8; 32]).decode_root(id(1), Sort::Best, &s), Err(CursorError::Tampered));
        assert_eq!(c.decode_root(id(1), Sort::Best, "!!!"), Err(CursorError::Malformed));
        assert_eq!(c.decode_root(id(1), Sort::Best, ""), Err(CursorError::Malformed));
        let r = c.encode_replies(id(5), &ReplyCursor { path: vec![0; 16] });
        assert_eq!(c.decode_root(id(5), Sort::Best, &r), Err(CursorError::Mismatch));
    }

    proptest! {
        #[test]
        fn any_single_byte_change_is_detected(score in -1e6f64..1e6, n in 1u64..u64::MAX >> 1, pos in 0usize..38, bit in 0u8..8) {
            let c = CursorCodec::new([3; 32]);
            let s = c.encode_root(id(42), Sort::Hot, RootCursor { score, id: id(n) });
            let mut raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
            prop_assert_eq!(raw.len(), 38);
            raw[pos] ^= 1 << bit;
            prop_assert!(c.decode_root(id(42), Sort::Hot, &URL_SAFE_NO_PAD.encode(raw)).is_err());
        }

        #[test]
        fn reply_cursors_round_trip(segments in proptest::collection::vec(any::<u64>(), 1..50)) {
            let c = CursorCodec::new([1; 32]);
            let path: Vec<u8> = segments.iter().flat_map(|s| s.to_be_bytes()).collect();
            let s = c.encode_replies(id(9), &ReplyCursor { path: path.clone() });
            prop_assert_eq!(c.decode_replies(id(9), &s).unwrap().path, path);
        }

        #[test]
        fn the_deepest_reply_cursor_fits(_x in 0..1u8) {
            let c = CursorCodec::new([1; 32]);
            let path = vec![0x11u8; 8 * (crate::model::MAX_DEPTH as usize + 1)];
            let s = c.encode_replies(id(9), &ReplyCursor { path: path.clone() });
            prop_assert!(s.len() <= MAX_CURSOR_CHARS);
            prop_assert_eq!(c.decode_replies(id(9), &s).unwrap().path, path);
        }

        #[test]
        fn garbage_never_panics(text in ".{0,200}") {
            let c = CursorCodec::new([1; 32]);
            let _ = c.decode_root(id(1), Sort::Newest, &text);
            let _ = c.decode_replies(id(1), &text);
        }
    }
}
