//! `path::resolve`. Input: the raw path after `/stream/`, still percent-encoded (UTF-8, as
//! the request line reaches the guest).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tapedeck_guest::path::{self, PathError};

/// Every byte but letters, digits and `/` is written as `%XX`.
const ALL_BUT_SLASH: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/');

/// Checks one raw path.
pub fn check(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let result = path::resolve(raw);
    let decoded: Vec<u8> = percent_decode_str(raw).collect();
    // 400 exactly when the path, decoded once, is not a name: a NUL, or not UTF-8.
    let unreadable = decoded.contains(&0) || std::str::from_utf8(&decoded).is_err();
    assert_eq!(result == Err(PathError::BadRequest), unreadable, "{raw:?} gave {result:?}");
    let Ok(decoded) = String::from_utf8(decoded) else {
        return;
    };
    let segments: Vec<&str> = decoded.split('/').collect();
    match result {
        Ok(relative) => {
            // Opened under MUSIC_DIR: relative, no NUL, no `..`, `.` or empty segment, no dotfile.
            assert!(!relative.is_empty() && !relative.starts_with('/'), "{raw:?}: {relative:?}");
            assert!(!relative.contains('\0'), "{raw:?}: {relative:?}");
            for segment in relative.split('/') {
                assert!(!segment.is_empty() && !segment.starts_with('.'), "{raw:?}: {relative:?}");
            }
            // It is the decoded path without its `.` segments, nothing else changed.
            let kept: Vec<&str> = segments.iter().copied().filter(|s| *s != ".").collect();
            assert_eq!(kept.join("/"), relative, "{raw:?}");
            // Decoded exactly once: the result, fully encoded again, resolves to itself.
            let encoded = utf8_percent_encode(&relative, ALL_BUT_SLASH).to_string();
            assert_eq!(path::resolve(&encoded).as_ref(), Ok(&relative), "{raw:?}");
            // The file's own name is its last segment.
            let name = path::file_name(&relative);
            assert!(!name.is_empty() && !name.contains('/') && relative.ends_with(name));
        }
        Err(PathError::BadRequest) => {}
        Err(PathError::Forbidden) => {
            // Only an absolute path, a climb or an empty segment before the last is forbidden.
            let before_last = &segments[..segments.len() - 1];
            let climbs = decoded.starts_with('/') || segments.contains(&"..");
            assert!(climbs || before_last.contains(&""), "{raw:?} forbidden");
        }
        Err(PathError::NotFound) => {
            // A directory (empty or `.` last segment) or a hidden name, and never a climb.
            assert!(!decoded.starts_with('/') && !segments.contains(&".."), "{raw:?} not found");
            let hidden = segments.iter().any(|s| s.starts_with('.') && *s != ".");
            let directory = matches!(segments.last(), Some(&"" | &"."));
            assert!(hidden || directory, "{raw:?} not found");
        }
    }
}
