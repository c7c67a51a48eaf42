//! What names a file and its type: the percent-decoded path alone (not the query, not `+`),
//! the MIME type of the extension in any case, and a `Content-Disposition` whose UTF-8
//! filename survives quotes, spaces and `%`.

use std::path::Path;

use crate::support::http::pct_decode;
use crate::support::library::{NESTED_UTF8, WAV};
use crate::support::media::{Format, encoded};
use crate::support::{Library, TestServer, assert_same_bytes};

#[test]
fn mime_type_follows_the_extension_case_insensitively() {
    const CASES: &[(&str, Format)] = &[
        ("LOUD.MP3", Format::Mp3),
        ("Mixed.Flac", Format::Flac),
        ("SHOUT.WAV", Format::Wav),
        ("Book.M4B", Format::M4b),
        ("Song.M4a", Format::M4a),
        ("OLD.WMA", Format::Wma),
        ("Pack.WV", Format::Wv),
        ("Vorbis.OGG", Format::Ogg),
        ("Speech.OpUs", Format::Opus),
    ];
    let library = Library::standard();
    for (name, format) in CASES {
        library.add(name, &encoded(*format));
    }
    let server = TestServer::start(library);
    for (name, format) in CASES {
        let response = server.stream(name, &[]);
        assert_eq!(response.status, 200, "{name}: {}", response.summary());
        assert_eq!(response.header("content-type").as_deref(), Some(format.mime()), "{name}");
        assert_same_bytes(&response.body, &server.library().read(name), name);
    }
}

#[test]
fn plain_name_gets_an_exact_inline_content_disposition() {
    let server = TestServer::start(Library::standard());
    let response = server.stream(WAV, &[]);
    assert_eq!(
        response.header("content-disposition").as_deref(),
        Some("inline; filename=\"tone.wav\"; filename*=UTF-8''tone.wav")
    );
}

#[test]
fn utf8_name_with_spaces_and_quotes_is_served_with_an_encoded_filename() {
    const NAMES: &[&str] = &[NESTED_UTF8, "100% pure; tone,mp3.mp3", "日本語 トーン.ogg"];
    let library = Library::standard();
    for name in &NAMES[1..] {
        library.add(name, &encoded(Format::Mp3));
    }
    let server = TestServer::start(library);
    for rel in NAMES {
        let response = server.stream(rel, &[]);
        assert_eq!(response.status, 200, "{rel}: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(rel), rel);
        let basename = rel.rsplit('/').next().unwrap();
        check_content_disposition(&response.expect_header("content-disposition"), basename);
    }
}

/// `inline; filename="<ASCII quoted-string>"; filename*=UTF-8''<RFC 8187 value>`, where the
/// extended value decodes to `basename` exactly and uses only `attr-char`s and `%XX`.
#[track_caller]
fn check_content_disposition(value: &str, basename: &str) {
    let rest = value
        .strip_prefix("inline; filename=\"")
        .unwrap_or_else(|| panic!("`{value}`: not inline"));
    // The quoted-string: ends at the first `"` not escaped by a backslash (RFC 9110 §5.6.4).
    let mut fallback = String::new();
    let mut chars = rest.char_indices();
    let end = loop {
        match chars.next() {
            Some((_, '\\')) => fallback.push(chars.next().expect("escape at the end").1),
            Some((i, '"')) => break i,
            Some((_, c)) => fallback.push(c),
            None => panic!("`{value}`: unterminated filename"),
        }
    };
    assert!(
        !fallback.is_empty() && fallback.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
        "`{value}`: the fallback filename must be printable ASCII"
    );
    let extended = rest[end + 1..]
        .strip_prefix("; filename*=UTF-8''")
        .unwrap_or_else(|| panic!("`{value}`: no `; filename*=UTF-8''` after the fallback"));
    let attr_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
    let mut bytes = extended.bytes();
    while let Some(b) = bytes.next() {
        let ok = attr_char(b)
            || (b == b'%'
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit()));
        assert!(ok, "`{value}`: `{}` is not allowed unencoded in filename*", b as char);
    }
    assert_eq!(
        String::from_utf8(pct_decode(extended)).expect("filename* is UTF-8"),
        basename,
        "`{value}`: filename* does not decode to the file's name"
    );
}

#[test]
fn the_name_is_the_percent_decoded_path_alone() {
    let library = Library::standard();
    library.add("a+b.mp3", &encoded(Format::Mp3));
    library.add("a b.mp3", &encoded(Format::Flac));
    library.add_symlink("inside-link.wav", Path::new(WAV));
    let server = TestServer::start(library);
    // (target as sent, the file whose bytes must come back)
    let cases = [
        ("/stream/tone.wav?v=123", WAV),
        ("/stream/tone.wav?", WAV),
        // `+` is a space only in form data, never in a path.
        ("/stream/a+b.mp3", "a+b.mp3"),
        ("/stream/a%2Bb.mp3", "a+b.mp3"),
        ("/stream/a%20b.mp3", "a b.mp3"),
        ("/stream/%74one.wav", WAV),
        // A symlink that stays inside MUSIC_DIR is an ordinary file of the library.
        ("/stream/inside-link.wav", WAV),
    ];
    for (target, file) in cases {
        let response = server.get(target, &[]);
        assert_eq!(response.status, 200, "{target}: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(file), target);
    }
}
