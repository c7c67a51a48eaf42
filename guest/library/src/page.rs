//! The web player page, embedded in the guest.

use crate::validators::Fnv;

/// The page, served at `/` and `/index.html`.
pub const HTML: &str = include_str!("page/index.html");

/// Its entity-tag, from a hash of its content computed at compile time.
pub fn etag() -> String {
    const HASH: u128 = Fnv::new().bytes(HTML.as_bytes()).finish();
    format!("\"{:016x}-page\"", HASH as u64)
}
