//! What every backend stores: a value with its version (so that an older value never
//! replaces a newer one), the time it stays fresh until, and how long it took to make
//! (for the early refresh). Encoded with a small fixed header so memcached and Redis
//! hold it as plain bytes; anything that does not decode is a miss.

use bytes::{BufMut, Bytes, BytesMut};

const MARK: u8 = 0xC1;
const HEADER: usize = 1 + 8 + 8 + 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Higher is newer; a put never replaces a higher version.
    pub version: u64,
    /// Unix ms after which the value is stale: still served while one refill runs.
    pub fresh_until: u64,
    /// How long the fill took, in ms: the early refresh starts sooner for slow fills.
    pub fill_ms: u32,
    pub value: Bytes,
}

impl Entry {
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(HEADER + self.value.len());
        b.put_u8(MARK);
        b.put_u64(self.version);
        b.put_u64(self.fresh_until);
        b.put_u32(self.fill_ms);
        b.put_slice(&self.value);
        b.freeze()
    }

    /// `None` for bytes that are not an entry (another application's value, or a
    /// format from another release): treated as a miss.
    pub fn decode(b: Bytes) -> Option<Entry> {
        if b.len() < HEADER || b[0] != MARK {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("eight bytes"));
        Some(Entry {
            version: u64_at(1),
            fresh_until: u64_at(9),
            fill_ms: u32::from_be_bytes(b[17..21].try_into().expect("four bytes")),
            value: b.slice(HEADER..),
        })
    }

    /// The size the in-process backend charges for it.
    pub fn weight(&self) -> usize {
        HEADER + self.value.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(version: u64, fresh_until: u64, fill_ms: u32, value: Vec<u8>) {
            let e = Entry { version, fresh_until, fill_ms, value: Bytes::from(value) };
            prop_assert_eq!(Entry::decode(e.encode()), Some(e));
        }

        #[test]
        fn foreign_bytes_are_not_entries(b: Vec<u8>) {
            if b.first() != Some(&MARK) {
                prop_assert_eq!(Entry::decode(Bytes::from(b)), None);
            }
        }
    }

    #[test]
    fn short_input_is_not_an_entry() {
        assert_eq!(Entry::decode(Bytes::from_static(&[MARK, 0, 0])), None);
    }
}
