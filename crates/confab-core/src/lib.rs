//! Confab's domain layer: the types every other crate speaks and the rules that need
//! no I/O — ids, parsed input, safe rendering, ranking and pagination cursors.
//!
//! Everything here is pure and deterministic given its inputs (the clock and the
//! random source are passed in or isolated in one place), so it is tested without
//! any database or server.

pub mod admission;
pub mod cursor;
pub mod id;
pub mod input;
pub mod jobs;
pub mod keys;
pub mod model;
pub mod rank;
pub mod render;
pub mod rules;
pub mod secret;
pub mod signature;
pub mod spam;
pub mod sso;
pub mod switches;

pub use id::{Id, IdGenerator, LogicalShard};
