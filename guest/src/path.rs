//! The still-encoded path after `/stream/`, checked and turned into a path under MUSIC_DIR.

use percent_encoding::percent_decode_str;

use crate::reply::{Reply, Status};

/// Why a request path names nothing tapedeck will serve; each maps to a fixed status and a
/// fixed message that never echoes the path (like Go's `toHTTPError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not decode to a name: a NUL byte or invalid UTF-8 (400).
    BadRequest,
    /// The path tries to leave MUSIC_DIR: a `..` segment, an absolute path, an empty segment
    /// (403).
    Forbidden,
    /// The path names no servable file: empty, a directory, or hidden (404).
    NotFound,
}

impl PathError {
    /// The status of the reply.
    pub fn status(self) -> Status {
        match self {
            Self::BadRequest => Status::BadRequest,
            Self::Forbidden => Status::Forbidden,
            Self::NotFound => Status::NotFound,
        }
    }

    /// The client-facing message.
    pub fn message(self) -> &'static str {
        match self {
            Self::BadRequest | Self::Forbidden => "Invalid path",
            Self::NotFound => "File not found",
        }
    }
}

impl From<PathError> for Reply {
    fn from(error: PathError) -> Self {
        Self::error(error.status(), error.message())
    }
}

/// The relative path (segments joined by `/`) to open under MUSIC_DIR for `raw`, the part of the
/// request path after `/stream/` exactly as received: still percent-encoded, without the query.
///
/// `raw` is decoded exactly once, so `%252e%252e` is the literal name `%2e%2e`, and a decoded `/`
/// separates segments like a raw one. The result never starts with `/`, never holds a `..`,
/// `.` or empty segment or a NUL, and never names a dotfile or hidden directory. A backslash is
/// an ordinary character of a Unix file name (`AC\DC - Live.mp3`), not a separator: the host's
/// preopen, not this function, is what keeps `open-at` inside MUSIC_DIR.
pub fn resolve(raw: &str) -> Result<String, PathError> {
    let decoded: Vec<u8> = percent_decode_str(raw).collect();
    // The host's path APIs end a name at NUL, so `a%00.mp3` could open `a`.
    if decoded.contains(&0) {
        return Err(PathError::BadRequest);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::BadRequest)?;
    if decoded.starts_with('/') {
        return Err(PathError::Forbidden);
    }
    // Climbing is forbidden wherever it appears, even where it would stay inside MUSIC_DIR.
    if decoded.split('/').any(|segment| segment == "..") {
        return Err(PathError::Forbidden);
    }
    let mut kept = Vec::new();
    let mut segments = decoded.split('/').peekable();
    while let Some(segment) = segments.next() {
        let is_last = segments.peek().is_none();
        match segment {
            // `a/`, `a/.` and the empty path name directories, which are not served.
            "" | "." if is_last => return Err(PathError::NotFound),
            // `a//b` means `/b` to some path joiners.
            "" => return Err(PathError::Forbidden),
            "." => {}
            hidden if hidden.starts_with('.') => return Err(PathError::NotFound),
            name => kept.push(name),
        }
    }
    Ok(kept.join("/"))
}

/// The last segment of a path that [`resolve`] returned: the file's own name.
pub fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

#[cfg(test)]
mod tests {
    use super::PathError::{BadRequest, Forbidden, NotFound};
    use super::{PathError, resolve};

    struct Case {
        name: &'static str,
        raw: &'static str,
        want: Result<&'static str, PathError>,
    }

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { name: "plain file", raw: "song.mp3", want: Ok("song.mp3") },
        Case { name: "nested file", raw: "Artist/Album/01.flac", want: Ok("Artist/Album/01.flac") },
        Case { name: "encoded spaces", raw: "01%20-%20Song.mp3", want: Ok("01 - Song.mp3") },
        Case { name: "plus stays plus", raw: "a+b.mp3", want: Ok("a+b.mp3") },
        Case { name: "encoded plus", raw: "a%2Bb.mp3", want: Ok("a+b.mp3") },
        Case {
            name: "UTF-8 names",
            raw: "Caf%C3%A9/%E6%97%A5%E6%9C%AC.flac",
            want: Ok("Café/日本.flac"),
        },
        Case { name: "raw UTF-8", raw: "Café/日本.flac", want: Ok("Café/日本.flac") },
        Case { name: "encoded slash separates", raw: "Artist%2fsong.mp3", want: Ok("Artist/song.mp3") },
        Case { name: "dot segments dropped", raw: "./a/./b.mp3", want: Ok("a/b.mp3") },
        Case { name: "encoded dot segment", raw: "a/%2e/b.mp3", want: Ok("a/b.mp3") },
        Case { name: "decoded once", raw: "%252e%252e/x.mp3", want: Ok("%2e%2e/x.mp3") },
        Case { name: "invalid escape kept", raw: "100%zz.mp3", want: Ok("100%zz.mp3") },
        Case { name: "dots inside a name", raw: "a..b.mp3", want: Ok("a..b.mp3") },
        Case { name: "backslash in a name", raw: "a\\b.mp3", want: Ok("a\\b.mp3") },
        Case { name: "encoded backslash", raw: "AC%5CDC%20-%20Live.mp3", want: Ok("AC\\DC - Live.mp3") },
        Case { name: "lower-case encoded backslash", raw: "a%5cb.mp3", want: Ok("a\\b.mp3") },
        Case { name: "backslash dots are not a parent", raw: "a\\..\\b.mp3", want: Ok("a\\..\\b.mp3") },
        Case { name: "trailing dot in a name", raw: "a./b.mp3", want: Ok("a./b.mp3") },
        Case { name: "empty", raw: "", want: Err(NotFound) },
        Case { name: "dot", raw: ".", want: Err(NotFound) },
        Case { name: "trailing slash", raw: "Artist/", want: Err(NotFound) },
        Case { name: "trailing dot segment", raw: "song.mp3/.", want: Err(NotFound) },
        Case { name: "encoded trailing slash", raw: "Artist%2F", want: Err(NotFound) },
        Case { name: "dotfile", raw: ".hidden.mp3", want: Err(NotFound) },
        Case { name: "dot-named audio", raw: ".mp3", want: Err(NotFound) },
        Case { name: "hidden directory", raw: ".git/config", want: Err(NotFound) },
        Case { name: "nested hidden", raw: "a/.cache/b.mp3", want: Err(NotFound) },
        Case { name: "encoded dotfile", raw: "%2Ehtpasswd", want: Err(NotFound) },
        Case { name: "three dots", raw: "a/.../b.mp3", want: Err(NotFound) },
        Case { name: "backslash after dots is a dotfile", raw: "..\\x.mp3", want: Err(NotFound) },
        Case { name: "encoded backslash after dots", raw: "..%5cx.mp3", want: Err(NotFound) },
        Case { name: "parent", raw: "..", want: Err(Forbidden) },
        Case { name: "parent then file", raw: "../etc/passwd", want: Err(Forbidden) },
        Case { name: "climb back inside", raw: "a/../a/song.mp3", want: Err(Forbidden) },
        Case { name: "trailing parent", raw: "a/..", want: Err(Forbidden) },
        Case { name: "parent with encoded slash", raw: "..%2fetc/passwd", want: Err(Forbidden) },
        Case { name: "encoded parent", raw: "%2e%2e/etc/passwd", want: Err(Forbidden) },
        Case { name: "upper-case encoded parent", raw: "%2E%2E/", want: Err(Forbidden) },
        Case { name: "half-encoded parent", raw: ".%2e/x", want: Err(Forbidden) },
        Case { name: "parent behind a hidden dir", raw: ".git/../x.mp3", want: Err(Forbidden) },
        Case { name: "absolute", raw: "/etc/passwd", want: Err(Forbidden) },
        Case { name: "encoded absolute", raw: "%2fetc/passwd", want: Err(Forbidden) },
        Case { name: "root", raw: "/", want: Err(Forbidden) },
        Case { name: "empty segment", raw: "a//b.mp3", want: Err(Forbidden) },
        Case { name: "empty segments then slash", raw: "a//", want: Err(Forbidden) },
        Case { name: "NUL", raw: "%00", want: Err(BadRequest) },
        Case { name: "NUL before an extension", raw: "a%00.mp3", want: Err(BadRequest) },
        Case { name: "NUL beats parent", raw: "../%00", want: Err(BadRequest) },
        Case { name: "invalid UTF-8", raw: "%C3%28.mp3", want: Err(BadRequest) },
        Case { name: "lone continuation byte", raw: "%80.mp3", want: Err(BadRequest) },
        Case { name: "overlong slash", raw: "%C0%AFetc", want: Err(BadRequest) },
    ];

    #[test]
    fn resolve_table() {
        for case in CASES {
            let got = resolve(case.raw);
            assert_eq!(got.as_deref().map_err(|&e| e), case.want, "{}: {:?}", case.name, case.raw);
        }
    }

    #[test]
    fn errors_map_to_fixed_statuses_and_messages() {
        assert_eq!((BadRequest.status().code(), BadRequest.message()), (400, "Invalid path"));
        assert_eq!((Forbidden.status().code(), Forbidden.message()), (403, "Invalid path"));
        assert_eq!((NotFound.status().code(), NotFound.message()), (404, "File not found"));
    }

    #[test]
    fn resolved_paths_are_always_relative_and_clean() {
        let pieces = ["a", "..", ".", "", "/", "%2f", "%2e", "%00", "\\", ".x", "é", "%ff", "%"];
        for seed in 0u32..20_000 {
            let raw: String = (0..5)
                .map(|i| pieces[((seed.wrapping_mul(2_654_435_761) >> (3 * i)) % 13) as usize])
                .collect();
            if let Ok(path) = resolve(&raw) {
                assert!(!path.is_empty() && !path.starts_with('/'), "{raw:?} gave {path:?}");
                assert!(!path.contains('\0'), "{raw:?} gave {path:?}");
                for segment in path.split('/') {
                    assert!(
                        !segment.is_empty() && !segment.starts_with('.'),
                        "{raw:?} gave {path:?}"
                    );
                }
            }
        }
    }
}
