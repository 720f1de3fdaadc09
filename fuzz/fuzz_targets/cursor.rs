//! Cursor decoding never panics, and only cursors this server signed decode.
#![no_main]

use confab_core::cursor::{CursorCodec, RootCursor};
use confab_core::id::Id;
use confab_core::model::Sort;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let codec = CursorCodec::new([7; 32]);
    let scope = Id::from_raw(42).unwrap();
    for sort in Sort::ALL {
        if let Ok(c) = codec.decode_root(scope, sort, input) {
            // Anything that decodes must be exactly what we would have issued.
            assert_eq!(codec.encode_root(scope, sort, RootCursor { score: c.score, id: c.id }), input);
        }
    }
    if let Ok(c) = codec.decode_replies(scope, input) {
        assert_eq!(codec.encode_replies(scope, &c), input);
    }
});
