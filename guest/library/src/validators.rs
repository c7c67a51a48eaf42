//! The entity-tags of the API's representations (RFC 9110 §8.8.3). Each is computed from
//! what the representation depends on, before anything is parsed, so a 304 costs a stat
//! or a directory listing, never a parse.

use tapedeck_guest::etag;

use crate::listing::{Entry, Kind, Listing};
use crate::query::Page;

/// A hash of this guest's sources: a new build may describe the same file differently.
pub const BUILD: &str = env!("TAPEDECK_LIBRARY_BUILD");

/// FNV-1a with 128 bits: fast, dependency-free and, at this width, without collisions in
/// practice for listings. Not for adversaries: a tenant can only confuse its own caches.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u128);

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv {
    /// A hasher with the standard offset basis.
    pub const fn new() -> Self {
        Self(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    /// Hashes `bytes`.
    pub const fn bytes(mut self, bytes: &[u8]) -> Self {
        let mut i = 0;
        while i < bytes.len() {
            self.0 =
                (self.0 ^ bytes[i] as u128).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
            i += 1;
        }
        self
    }

    /// Hashes `text` after its length, so that consecutive strings cannot run together.
    pub fn text(self, text: &str) -> Self {
        self.number(text.len() as u64).bytes(text.as_bytes())
    }

    /// Hashes a number.
    pub fn number(self, n: u64) -> Self {
        self.bytes(&n.to_le_bytes())
    }

    /// The hash.
    pub const fn finish(self) -> u128 {
        self.0
    }
}

/// The entity-tag of `/api/track` for a file with entity-tag `file` (from its size and
/// mtime): the JSON also depends on the URL prefix, on whether the directory has a cover
/// picture, and on this build.
pub fn track(file: &str, prefix: &str, dir_cover: bool) -> String {
    let context = Fnv::new().text(BUILD).text(prefix).number(dir_cover.into()).finish() as u64;
    etag::variant(file, &format!("track.{context:016x}"))
}

/// The entity-tag of a cover picture taken from the file tagged `file`.
pub fn cover(file: &str) -> String {
    etag::variant(file, &["cover.", BUILD].concat())
}

/// The entity-tag of a page of `/api/browse` of `dir`: every name, size and mtime in the
/// listing, and the page, the prefix and this build.
pub fn browse(dir: &str, prefix: &str, page: Page, listing: &Listing) -> String {
    let mut hash = Fnv::new()
        .text(BUILD)
        .text(prefix)
        .text(dir)
        .number(page.offset as u64)
        .number(page.limit as u64)
        .text(listing.cover.as_ref().map_or("", |entry| entry.name.as_str()));
    for entry in listing.dirs.iter().chain(&listing.tracks) {
        hash = entry_hash(hash, entry);
    }
    format!("\"{:032x}-browse\"", hash.finish())
}

fn entry_hash(hash: Fnv, entry: &Entry) -> Fnv {
    let kind = match entry.kind {
        Kind::File => 0,
        Kind::Dir => 1,
    };
    hash.text(&entry.name)
        .number(kind)
        .number(entry.size)
        .number(entry.modified.0)
        .number(entry.modified.1.into())
}

#[cfg(test)]
mod tests {
    use super::{Fnv, browse, cover, track};
    use crate::listing::{Entry, Kind, Listing};
    use crate::query::Page;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(Fnv::new().finish(), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(Fnv::new().bytes(b"a").finish(), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn track_tags_change_with_their_inputs() {
        let file = r#""1.0-10""#;
        let base = track(file, "/a", false);
        assert!(base.starts_with(r#""1.0-10-track."#) && base.ends_with('"'), "{base}");
        assert_ne!(base, track(file, "/b", false));
        assert_ne!(base, track(file, "/a", true));
        assert_ne!(base, track(r#""1.0-11""#, "/a", false));
        assert_ne!(cover(file), base);
    }

    #[test]
    fn browse_tags_change_with_any_entry() {
        let entry = |name: &str, size| Entry {
            name: name.into(),
            kind: Kind::File,
            size,
            modified: (5, 0),
        };
        let listing = Listing { tracks: vec![entry("a.mp3", 1)], ..Listing::default() };
        let page = Page { offset: 0, limit: 100 };
        let base = browse("A", "", page, &listing);
        let resized = Listing { tracks: vec![entry("a.mp3", 2)], ..Listing::default() };
        let renamed = Listing { tracks: vec![entry("b.mp3", 1)], ..Listing::default() };
        let covered = Listing { cover: Some(entry("cover.jpg", 1)), ..listing.clone() };
        for other in [
            browse("A", "", page, &resized),
            browse("A", "", page, &renamed),
            browse("A", "", page, &covered),
            browse("B", "", page, &listing),
            browse("A", "/p", page, &listing),
            browse("A", "", Page { offset: 1, limit: 100 }, &listing),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(base, browse("A", "", page, &listing));
    }
}
