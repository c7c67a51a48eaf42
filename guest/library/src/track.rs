//! The track object of `/api/track` and `/api/browse`.

use crate::json::{self, Object};
use crate::media::Probed;
use crate::url;

/// What the listing knows of a track before its file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackFile<'a> {
    /// The path relative to the music dir.
    pub path: &'a str,
    /// Bytes.
    pub size: u64,
    /// The media type of its extension.
    pub mime: &'a str,
}

/// Whether a browser needs the file decoded to WAV: it plays neither WavPack nor WMA.
fn needs_wav(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("wv") || ext.eq_ignore_ascii_case("wma"))
}

/// Writes the track object: `probed` is `None` or its properties `Malformed` when the file
/// cannot be read, and then every field the file would give is null. `cover` says whether
/// `/api/cover` has a picture for it.
pub fn write(
    out: &mut String,
    file: TrackFile,
    probed: Option<&Probed>,
    cover: bool,
    prefix: &str,
) {
    let mut object = Object::new(out);
    object.string("path", file.path);
    json::number(object.field("size"), file.size);
    object.string("mime", file.mime);
    let properties = probed.and_then(|probed| probed.properties.ok());
    object.optional_string("codec", properties.map(|p| p.codec.name()));
    match properties.and_then(|p| p.duration) {
        Some(duration) => json::seconds(object.field("duration"), duration),
        None => object.field("duration").push_str("null"),
    }
    object.optional_number("bitrate", properties.and_then(|p| p.bitrate()));
    object.optional_number("sample_rate", properties.map(|p| p.sample_rate.into()));
    object.optional_number("channels", properties.map(|p| p.channels.into()));
    let bits = properties.filter(|p| !p.codec.is_lossy()).and_then(|p| p.bits_per_sample);
    object.optional_number("bits_per_sample", bits.map(u64::from));
    let tags = probed.filter(|probed| probed.properties.is_ok()).map(|probed| &probed.tags);
    let mut fields = Object::new(object.field("tags"));
    let text = |get: fn(&crate::media::tags::Tags) -> &Option<String>| {
        tags.and_then(|t| get(t).as_deref())
    };
    let number =
        |get: fn(&crate::media::tags::Tags) -> Option<u32>| tags.and_then(get).map(u64::from);
    fields.optional_string("title", text(|t| &t.title));
    fields.optional_string("artist", text(|t| &t.artist));
    fields.optional_string("album", text(|t| &t.album));
    fields.optional_string("album_artist", text(|t| &t.album_artist));
    fields.optional_number("track", number(|t| t.track));
    fields.optional_number("track_total", number(|t| t.track_total));
    fields.optional_number("disc", number(|t| t.disc));
    fields.optional_number("disc_total", number(|t| t.disc_total));
    fields.optional_number("year", number(|t| t.year));
    fields.optional_string("genre", text(|t| &t.genre));
    fields.end();
    let cover = cover.then(|| url::url(prefix, "/api/cover/", file.path));
    object.optional_string("cover", cover.as_deref());
    let play = if needs_wav(file.path) { "/stream/wav/" } else { "/stream/" };
    object.string("play", &url::url(prefix, play, file.path));
    object.end();
}

#[cfg(test)]
mod tests {
    use super::{TrackFile, write};
    use crate::media::tags::Tags;
    use crate::media::{Codec, Malformed, Probed, Properties};

    const FILE: TrackFile = TrackFile { path: "A/01 - é.flac", size: 44_485, mime: "audio/flac" };

    fn json(file: TrackFile, probed: Option<&Probed>, cover: bool, prefix: &str) -> String {
        let mut out = String::new();
        write(&mut out, file, probed, cover, prefix);
        out
    }

    #[test]
    fn a_parsed_track() {
        let probed = Probed {
            properties: Ok(Properties {
                codec: Codec::Flac,
                duration: Some(3.0),
                audio_bytes: 36_000,
                sample_rate: 44_100,
                channels: 1,
                bits_per_sample: Some(16),
            }),
            tags: Tags {
                title: Some("T \"q\"".into()),
                track: Some(3),
                track_total: Some(12),
                year: Some(2019),
                ..Tags::default()
            },
            has_picture: true,
        };
        let want = concat!(
            r#"{"path":"A/01 - é.flac","size":44485,"mime":"audio/flac","codec":"flac","duration":3.0,"bitrate":96000,"#,
            r#""sample_rate":44100,"channels":1,"bits_per_sample":16,"tags":{"title":"T \"q\"","artist":null,"album":null,"#,
            r#""album_artist":null,"track":3,"track_total":12,"disc":null,"disc_total":null,"year":2019,"genre":null},"#,
            r#""cover":"/alice/api/cover/A/01%20-%20%C3%A9.flac","play":"/alice/stream/A/01%20-%20%C3%A9.flac"}"#
        );
        assert_eq!(json(FILE, Some(&probed), true, "/alice"), want);
    }

    #[test]
    fn a_corrupt_track_has_nulls_but_its_path_and_urls() {
        let corrupt = Probed {
            properties: Err(Malformed),
            tags: Tags { title: Some("x".into()), ..Tags::default() },
            has_picture: false,
        };
        let file = TrackFile { path: "b.wv", size: 5, mime: "audio/x-wavpack" };
        let want = concat!(
            r#"{"path":"b.wv","size":5,"mime":"audio/x-wavpack","codec":null,"duration":null,"bitrate":null,"#,
            r#""sample_rate":null,"channels":null,"bits_per_sample":null,"tags":{"title":null,"artist":null,"album":null,"#,
            r#""album_artist":null,"track":null,"track_total":null,"disc":null,"disc_total":null,"year":null,"genre":null},"#,
            r#""cover":null,"play":"/stream/wav/b.wv"}"#
        );
        assert_eq!(json(file, Some(&corrupt), false, ""), want);
        assert_eq!(json(file, None, false, ""), want);
    }

    #[test]
    fn lossy_codecs_have_no_bit_depth_and_wma_plays_as_wav() {
        let probed = Probed {
            properties: Ok(Properties {
                codec: Codec::Wma,
                duration: None,
                audio_bytes: 1,
                sample_rate: 44_100,
                channels: 2,
                bits_per_sample: Some(16),
            }),
            tags: Tags::default(),
            has_picture: false,
        };
        let out = json(
            TrackFile { path: "x.WMA", size: 1, mime: "audio/x-ms-wma" },
            Some(&probed),
            false,
            "",
        );
        assert!(out.contains(r#""duration":null,"bitrate":null"#), "{out}");
        assert!(out.contains(r#""bits_per_sample":null"#), "{out}");
        assert!(out.ends_with(r#""play":"/stream/wav/x.WMA"}"#), "{out}");
    }
}
