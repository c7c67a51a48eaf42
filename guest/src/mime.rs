//! Audio media types by file extension: tapedeck serves audio files and nothing else.

/// The audio formats tapedeck serves, by extension; `.m4b` is the audiobook spelling of `.m4a`.
const AUDIO_TYPES: &[(&str, &str)] = &[
    ("mp3", "audio/mpeg"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("m4a", "audio/mp4"),
    ("m4b", "audio/mp4"),
    ("wma", "audio/x-ms-wma"),
    ("wv", "audio/x-wavpack"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
];

/// The media type of an audio file, by its extension (ASCII case-insensitive), or `None` when
/// the file is not audio. There is no fallback type: with one, cover art and text files
/// would be served too, where `None` lets the glue refuse them.
pub fn audio_type(file_name: &str) -> Option<&'static str> {
    let name = file_name.rsplit('/').next().unwrap_or(file_name);
    let (stem, extension) = name.rsplit_once('.')?;
    // `.mp3` alone is a dotfile named "mp3" with no extension.
    if stem.is_empty() {
        return None;
    }
    AUDIO_TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        .map(|&(_, media_type)| media_type)
}

#[cfg(test)]
mod tests {
    use super::audio_type;

    const CASES: &[(&str, Option<&str>)] = &[
        ("song.mp3", Some("audio/mpeg")),
        ("song.flac", Some("audio/flac")),
        ("song.wav", Some("audio/wav")),
        ("song.m4a", Some("audio/mp4")),
        ("book.m4b", Some("audio/mp4")),
        ("song.wma", Some("audio/x-ms-wma")),
        ("song.wv", Some("audio/x-wavpack")),
        ("song.ogg", Some("audio/ogg")),
        ("song.opus", Some("audio/opus")),
        ("SONG.MP3", Some("audio/mpeg")),
        ("Song.FlAc", Some("audio/flac")),
        ("01 - Café.Opus", Some("audio/opus")),
        ("日本.wv", Some("audio/x-wavpack")),
        ("a.b.c.ogg", Some("audio/ogg")),
        ("Artist/Album/01.mp3", Some("audio/mpeg")),
        ("..mp3", Some("audio/mpeg")),
        ("notes.txt", None),
        ("cover.jpg", None),
        ("playlist.m3u", None),
        ("song.mp3.txt", None),
        ("song.mp", None),
        ("song.mp33", None),
        ("song.", None),
        ("song", None),
        ("", None),
        ("mp3", None),
        (".mp3", None),
        ("Album/.mp3", None),
        ("Album.mp3/cover", None),
    ];

    #[test]
    fn audio_type_by_extension() {
        for &(name, want) in CASES {
            assert_eq!(audio_type(name), want, "file name {name:?}");
        }
    }
}
