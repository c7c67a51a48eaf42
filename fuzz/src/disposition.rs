//! `disposition::inline`. Input: a file name, as `path::file_name` returns it (UTF-8).

use percent_encoding::percent_decode_str;
use tapedeck_guest::disposition;

/// RFC 8187 §3.2.1 `attr-char`: what `filename*` may hold unencoded.
fn attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// Checks one file name.
pub fn check(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let value = disposition::inline(name);
    // A field value of visible ASCII and spaces: no CR, LF or NUL to end the field early.
    assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name:?}: {value:?}");
    let (fallback, extended) = value
        .strip_prefix("inline; filename=\"")
        .and_then(|rest| rest.split_once("\"; filename*=UTF-8''"))
        .unwrap_or_else(|| panic!("{name:?}: {value:?}"));
    // The fallback is a plain quoted-string with a readable name.
    assert!(!fallback.is_empty(), "{name:?}");
    assert!(!fallback.contains(['"', '\\', '%']), "{name:?}: {fallback:?}");
    assert!(fallback.bytes().any(|b| b.is_ascii_alphanumeric()), "{name:?}: {fallback:?}");
    // The extended value is attr-chars and `%XX` escapes that decode to exactly the name.
    let bytes = extended.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes.get(at + 1..at + 3).unwrap_or_default();
            assert!(hex.len() == 2 && hex.iter().all(u8::is_ascii_hexdigit), "{extended:?}");
            at += 3;
        } else {
            assert!(attr_char(bytes[at]), "{name:?}: {extended:?}");
            at += 1;
        }
    }
    assert_eq!(percent_decode_str(extended).decode_utf8().as_deref(), Ok(name), "{name:?}");
}
