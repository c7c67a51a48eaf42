//! The absolute URLs the API hands out (`play`, `cover`): the tenant's prefix, the route,
//! and the file's path percent-encoded.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a path segment keeps as it is: RFC 3986's unreserved characters. Everything else,
/// `/` inside a name included, is encoded, so `path::resolve` decodes it back exactly.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What a prefix keeps: also its `/` separators and the other characters a path may hold.
const PREFIX: &AsciiSet = &SEGMENT
    .remove(b'/')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'%');

/// The tenant's URL prefix from the `x-tapedeck-prefix` header: `/alice` as is, without a
/// trailing `/`; empty when absent, empty or not a path.
pub fn prefix(header: Option<&str>) -> String {
    let value = header.map(str::trim).unwrap_or_default().trim_end_matches('/');
    if !value.starts_with('/') {
        return String::new();
    }
    utf8_percent_encode(value, PREFIX).to_string()
}

/// `path` (segments joined by `/`) with each segment percent-encoded.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
    out
}

/// The URL of `path` under `route` (such as `/stream/`) for the tenant at `prefix`.
pub fn url(prefix: &str, route: &str, path: &str) -> String {
    [prefix, route, &encode_path(path)].concat()
}

#[cfg(test)]
mod tests {
    use super::{encode_path, prefix, url};

    #[test]
    fn prefixes() {
        #[rustfmt::skip]
        let cases = [
            (None, ""), (Some(""), ""), (Some("/"), ""), (Some("/alice"), "/alice"), (Some("/alice/"), "/alice"),
            (Some(" /a/b "), "/a/b"), (Some("alice"), ""), (Some("/a b\"<"), "/a%20b%22%3C"), (Some("/caf%C3%A9"), "/caf%C3%A9"),
        ];
        for (header, want) in cases {
            assert_eq!(prefix(header), want, "{header:?}");
        }
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        #[rustfmt::skip]
        let cases = [
            ("a.mp3", "a.mp3"), ("Tones/01 - A440 café.flac", "Tones/01%20-%20A440%20caf%C3%A9.flac"),
            ("AC\\DC/100%?#.mp3", "AC%5CDC/100%25%3F%23.mp3"), ("a+b&c=d.mp3", "a%2Bb%26c%3Dd.mp3"), ("", ""),
        ];
        for (path, want) in cases {
            assert_eq!(encode_path(path), want, "{path:?}");
            let decoded = tapedeck_guest::path::resolve(want);
            if !path.is_empty() {
                assert_eq!(decoded.as_deref(), Ok(path), "round trip of {path:?}");
            }
        }
        assert_eq!(
            url("/alice", "/stream/wav/", "L/08 - A880.wv"),
            "/alice/stream/wav/L/08%20-%20A880.wv"
        );
    }
}
