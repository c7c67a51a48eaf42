//! Entity-tags computed from a file's size and modification time (RFC 9110 §8.8.3).

/// The strong entity-tag of a file of `len` bytes last modified `modified_secs` seconds and
/// `modified_nanos` nanoseconds after the Unix epoch: `"<secs hex>.<nanos hex>-<len hex>"`.
///
/// Only size and mtime go in, never the inode, so every replica serving the same shared storage
/// gives the same tag. Re-tagging a file in place changes its mtime, hence its tag; with
/// nanoseconds in it, a tag is as strong (RFC 9110 §8.8.1) as the filesystem's clock.
pub fn strong(len: u64, modified_secs: u64, modified_nanos: u32) -> String {
    // Two quotes, two separators and at most 16 + 8 + 16 hex digits.
    let mut tag = String::with_capacity(4 + 16 + 8 + 16);
    tag.push('"');
    push_hex(&mut tag, modified_secs);
    tag.push('.');
    push_hex(&mut tag, modified_nanos.into());
    tag.push('-');
    push_hex(&mut tag, len);
    tag.push('"');
    tag
}

/// Appends `n` in lower-case hex without leading zeros, as `{:x}` would, but without
/// `core::fmt` (see the crate's doc).
fn push_hex(out: &mut String, n: u64) {
    let digits = (u64::BITS - (n | 1).leading_zeros()).div_ceil(4);
    for digit in (0..digits).rev() {
        out.push(char::from(b"0123456789abcdef"[(n >> (digit * 4)) as usize & 0xf]));
    }
}

/// A strong entity-tag for a representation derived from the one tagged `etag`, such as its WAV
/// transcode: `"<opaque>-<suffix>"`. It differs from `etag` and from every tag [`strong`] makes
/// (those hold one `-`), so a client never splices ranges of the two byte sequences together.
/// `suffix` must be `etagc` characters (RFC 9110 §8.8.3), e.g. `wav`.
pub fn variant(etag: &str, suffix: &str) -> String {
    let opaque = etag.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap_or(etag);
    format!("\"{opaque}-{suffix}\"")
}

#[cfg(test)]
mod tests {
    use super::{strong, variant};

    #[test]
    fn strong_tag_is_quoted_hex_of_mtime_and_size() {
        assert_eq!(strong(0, 0, 0), r#""0.0-0""#);
        assert_eq!(strong(8, 1_403_716_338, 123), r#""53ab02f2.7b-8""#);
        assert_eq!(strong(0x10, 0xf, 0x100), r#""f.100-10""#);
        assert_eq!(
            strong(u64::MAX, u64::MAX, u32::MAX),
            r#""ffffffffffffffff.ffffffff-ffffffffffffffff""#
        );
    }

    #[test]
    fn strong_tag_depends_only_on_its_inputs() {
        assert_eq!(strong(1000, 1_700_000_000, 5), strong(1000, 1_700_000_000, 5));
    }

    #[test]
    fn strong_tag_changes_with_size_seconds_or_nanoseconds() {
        let base = strong(1000, 1_700_000_000, 5);
        assert_ne!(base, strong(1001, 1_700_000_000, 5));
        assert_ne!(base, strong(1000, 1_700_000_001, 5));
        assert_ne!(base, strong(1000, 1_700_000_000, 6));
        // The separators keep fields apart: 0x1.0x23 vs 0x12.0x3.
        assert_ne!(strong(0, 0x1, 0x23), strong(0, 0x12, 0x3));
    }

    #[test]
    fn variant_appends_the_suffix_inside_the_quotes() {
        let etag = strong(8, 1_403_716_338, 123);
        assert_eq!(variant(&etag, "wav"), r#""53ab02f2.7b-8-wav""#);
        assert_ne!(variant(&etag, "wav"), etag);
        assert_ne!(variant(&etag, "wav"), variant(&etag, "mp3"));
    }

    #[test]
    fn variant_quotes_an_unquoted_input() {
        assert_eq!(variant("abc", "wav"), r#""abc-wav""#);
    }
}
