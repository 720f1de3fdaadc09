//! The public reads, in one place: page assembly (`pages`) and the cache in front of it
//! (`cache`: the shared cache with its stampede protection, the in-process forum copies,
//! and the refreshes that writes ask for). Handlers call into here; nothing here calls a
//! handler.

mod cache;
pub(crate) mod pages;

pub use cache::{DEFAULT_POLICY, Reads};
pub(crate) use cache::{author_changed, keep_layer};
