//! `Content-Disposition: inline` with the file's real name (RFC 6266, RFC 8187).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What RFC 8187 §3.2.1 `attr-char` leaves unencoded besides ALPHA and DIGIT; everything else
/// in the UTF-8 bytes of the name is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The stem of the ASCII fallback when nothing readable of the real name survives.
const FALLBACK_STEM: &str = "audio";

/// `inline; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded name>`: clients that
/// know RFC 8187 use the exact name, older ones the fallback (RFC 6266 §4.3).
pub fn inline(file_name: &str) -> String {
    let mut value = String::from("inline; filename=\"");
    value.push_str(&ascii_fallback(file_name));
    value.push_str("\"; filename*=UTF-8''");
    value.extend(utf8_percent_encode(file_name, ATTR_CHAR));
    value
}

/// The name reduced to printable ASCII that needs no escaping inside a quoted-string.
fn ascii_fallback(file_name: &str) -> String {
    let kept: String = file_name
        .chars()
        .filter_map(|c| match c {
            // `"` and `\` would need quoted-pairs inside a quoted-string (RFC 9110 §5.6.4), which
            // clients handle inconsistently; some decode `%xx` in `filename` (RFC 6266 §4.3).
            '"' | '\\' | '%' => Some('_'),
            ' '..='~' => Some(c),
            // Non-ASCII and control characters: the exact name is in `filename*`.
            _ => None,
        })
        .collect();
    let (stem, extension) = match kept.rsplit_once('.') {
        Some((stem, extension)) => (stem, Some(extension)),
        None => (kept.as_str(), None),
    };
    // `日本.flac` leaves `.flac`: a hidden file to most clients, so give it a readable stem.
    let stem = stem.trim();
    let stem = if stem.bytes().any(|b| b.is_ascii_alphanumeric()) { stem } else { FALLBACK_STEM };
    match extension {
        Some(extension) => [stem, ".", extension].concat(),
        None => stem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::inline;

    const CASES: &[(&str, &str, &str)] = &[
        ("plain ASCII", "song.mp3", r#"inline; filename="song.mp3"; filename*=UTF-8''song.mp3"#),
        (
            "spaces are kept in the fallback and encoded in filename*",
            "01 - Song.mp3",
            r#"inline; filename="01 - Song.mp3"; filename*=UTF-8''01%20-%20Song.mp3"#,
        ),
        (
            "accented letters are dropped from the fallback",
            "Café.flac",
            r#"inline; filename="Caf.flac"; filename*=UTF-8''Caf%C3%A9.flac"#,
        ),
        (
            "a name without ASCII keeps its extension",
            "日本.flac",
            r#"inline; filename="audio.flac"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.flac"#,
        ),
        (
            "a name without ASCII or extension",
            "日本",
            r#"inline; filename="audio"; filename*=UTF-8''%E6%97%A5%E6%9C%AC"#,
        ),
        (
            "punctuation alone is not a readable stem",
            "— .mp3",
            r#"inline; filename="audio.mp3"; filename*=UTF-8''%E2%80%94%20.mp3"#,
        ),
        (
            "spaces left next to dropped characters are trimmed",
            "日本 Live .opus",
            r#"inline; filename="Live.opus"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%20Live%20.opus"#,
        ),
        (
            "quotes and backslashes cannot break the quoted-string",
            r#"say "hi" \ bye.mp3"#,
            r#"inline; filename="say _hi_ _ bye.mp3"; filename*=UTF-8''say%20%22hi%22%20%5C%20bye.mp3"#,
        ),
        (
            "percent is replaced in the fallback and encoded in filename*",
            "100%25.mp3",
            r#"inline; filename="100_25.mp3"; filename*=UTF-8''100%2525.mp3"#,
        ),
        (
            "control characters are dropped",
            "a\tb\nc\u{7f}.wav",
            r#"inline; filename="abc.wav"; filename*=UTF-8''a%09b%0Ac%7F.wav"#,
        ),
        (
            "attr-char punctuation is not encoded",
            "a!#$&+-.^_`|~.ogg",
            r#"inline; filename="a!#$&+-.^_`|~.ogg"; filename*=UTF-8''a!#$&+-.^_`|~.ogg"#,
        ),
        (
            "other punctuation is encoded",
            "a'()*,;=@[]{}:/?.ogg",
            r#"inline; filename="a'()*,;=@[]{}:/?.ogg"; filename*=UTF-8''a%27%28%29%2A%2C%3B%3D%40%5B%5D%7B%7D%3A%2F%3F.ogg"#,
        ),
        ("empty name", "", r#"inline; filename="audio"; filename*=UTF-8''"#),
    ];

    #[test]
    fn content_disposition_table() {
        for &(name, file_name, want) in CASES {
            assert_eq!(inline(file_name), want, "{name}");
        }
    }

    #[test]
    fn fallback_is_always_a_plain_quoted_string() {
        let alphabet = ['a', '"', '\\', '%', ' ', '.', 'é', '日', '\n', '\0', '\u{7f}', ';'];
        for seed in 0u32..4096 {
            let name: String = (0..6)
                .map(|i| alphabet[((seed >> (2 * i)) as usize ^ i) % alphabet.len()])
                .collect();
            let header = inline(&name);
            let fallback = header
                .strip_prefix("inline; filename=\"")
                .and_then(|rest| rest.split_once("\"; filename*=UTF-8''"))
                .map(|(fallback, _)| fallback)
                .unwrap_or_else(|| panic!("unexpected header {header:?}"));
            assert!(!fallback.is_empty(), "{name:?}");
            assert!(
                fallback.chars().all(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\' | '%')),
                "{name:?} gave fallback {fallback:?}"
            );
        }
    }
}
