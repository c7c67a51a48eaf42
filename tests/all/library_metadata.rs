//! `/api/track`: for a real file of every format and tag version, each field as written
//! (tags, sample rate, channels, bit depth) or as `ffprobe` measures it (duration), and a
//! file whose header cannot be parsed is a 422 alone and nulls in a browse page.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::api::{assert_error, assert_revalidates, browse_url, get_json, track_url};
use crate::support::http::pct_path;
use crate::support::tagged::{Encoding, SONG, Song, TagKind, make, untagged};
use crate::support::{Library, TestServer, run};

/// How close `duration` must be to the truth.
#[derive(Debug, Clone, Copy)]
enum Duration {
    /// The container records the samples played (FLAC STREAMINFO, WAV data size, WavPack
    /// block header, MP4 edit list, the LAME header's delay and padding, the last Ogg
    /// granule less Opus pre-skip): the seconds encoded, to half a sample and the API's
    /// microsecond rounding.
    Exact,
    /// Nothing records it; the API's estimate must match `ffprobe`'s within this many seconds.
    Probe(f64),
    /// Nothing records it and the bitrate varies, so the frames are counted: the encoder's
    /// priming (1105 samples for LAME) and padding (under a frame) are included, less than
    /// this many samples in all. (`ffprobe` guesses from the first frame's bitrate here.)
    Frames(u32),
}

/// What `bitrate` must be.
#[derive(Debug, Clone, Copy)]
enum Bitrate {
    /// PCM: rate × channels × bits.
    Exact(u64),
    /// A constant-bitrate encode: within this fraction of the nominal rate. The average is
    /// measured over the displayed duration, so the frames holding the encoder's priming
    /// and padding (and the LAME header frame) add about 2% to a 3-second file.
    Near(u64, f64),
    /// Variable: at most the whole file's rate (the audio is part of the file) and at least
    /// half of it (headers, tags and pictures are less than half of these files; the
    /// Vorbis setup header alone is about 4 KB).
    OfFile,
}

struct Row {
    name: &'static str,
    encoding: Encoding,
    tags: Option<(TagKind, &'static str)>,
    /// Tag fields the format cannot hold: null in the answer.
    missing: &'static [&'static str],
    codec: &'static str,
    sample_rate: u64,
    bits: Option<u64>,
    duration: Duration,
    bitrate: Bitrate,
}

const fn enc(
    ext: &'static str,
    args: &'static [&'static str],
    rate: u32,
    channels: u16,
) -> Encoding {
    Encoding { ext, args, rate, channels, seconds: 3.0 }
}

const MP3_CBR: &[&str] = &["-c:a", "libmp3lame", "-b:a", "128k"];
const AAC: &[&str] = &["-c:a", "aac", "-b:a", "128k"];
const NONE: &[&str] = &[];
const ALL_TAGS: &[&str] = &[
    "title",
    "artist",
    "album",
    "album_artist",
    "track",
    "track_total",
    "disc",
    "disc_total",
    "year",
    "genre",
];

#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row { name: "mp3 CBR, ID3v2.4 UTF-16 and UTF-8, genre 17", encoding: enc("mp3", MP3_CBR, 44_100, 2),
        tags: Some((TagKind::Id3v24, "17")), missing: NONE, codec: "mp3", sample_rate: 44_100, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::Near(128_000, 0.03) },
    Row { name: "mp3 VBR -q:a 4, ID3v2.3 UTF-16, genre (17), TYER+TDAT",
        encoding: enc("mp3", &["-c:a", "libmp3lame", "-q:a", "4"], 44_100, 2),
        tags: Some((TagKind::Id3v23, "(17)")), missing: NONE, codec: "mp3", sample_rate: 44_100, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    // MPEG-2 layer III (576 samples a frame) with no Xing header: the duration is estimated
    // from the bitrate, as ffprobe does; one frame is 26 ms.
    Row { name: "mp3 CBR 22.05 kHz mono without Xing, ID3v2.2 UTF-16",
        encoding: enc("mp3", &["-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", "0"], 22_050, 1),
        tags: Some((TagKind::Id3v22, "(17)")), missing: NONE, codec: "mp3", sample_rate: 22_050, bits: None,
        duration: Duration::Probe(576.0 / 22_050.0), bitrate: Bitrate::Near(32_000, 0.01) },
    // Loud, then silent: the bitrate falls by half, so only counting frames is right.
    Row { name: "mp3 VBR without Xing, ID3v2.4",
        encoding: enc("mp3", &["-c:a", "libmp3lame", "-q:a", "0", "-write_xing", "0",
            "-af", "volume=enable='gt(t,1.5)':volume=0"], 44_100, 2),
        tags: Some((TagKind::Id3v24, "Rock")), missing: NONE, codec: "mp3", sample_rate: 44_100, bits: None,
        duration: Duration::Frames(2 * 1152), bitrate: Bitrate::OfFile },
    Row { name: "flac 16-bit", encoding: enc("flac", &["-c:a", "flac"], 44_100, 2),
        tags: Some((TagKind::Vorbis, "Rock")), missing: NONE, codec: "flac", sample_rate: 44_100, bits: Some(16),
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    Row { name: "flac 24-bit 96 kHz mono",
        encoding: enc("flac", &["-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24"], 96_000, 1),
        tags: None, missing: ALL_TAGS, codec: "flac", sample_rate: 96_000, bits: Some(24),
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    Row { name: "wav 16-bit, RIFF INFO", encoding: enc("wav", &["-c:a", "pcm_s16le"], 44_100, 2),
        tags: Some((TagKind::RiffInfo, "Rock")), missing: &["album_artist", "disc", "disc_total"], codec: "pcm",
        sample_rate: 44_100, bits: Some(16), duration: Duration::Exact, bitrate: Bitrate::Exact(44_100 * 2 * 16) },
    Row { name: "wav 24-bit 48 kHz mono", encoding: enc("wav", &["-c:a", "pcm_s24le"], 48_000, 1),
        tags: None, missing: ALL_TAGS, codec: "pcm", sample_rate: 48_000, bits: Some(24),
        duration: Duration::Exact, bitrate: Bitrate::Exact(48_000 * 24) },
    Row { name: "m4a AAC, moov at the end", encoding: enc("m4a", AAC, 44_100, 2),
        tags: Some((TagKind::Mp4, "Rock")), missing: NONE, codec: "aac", sample_rate: 44_100, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::Near(128_000, 0.03) },
    Row { name: "m4a AAC, faststart",
        encoding: enc("m4a", &["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"], 44_100, 2),
        tags: Some((TagKind::Mp4, "Rock")), missing: NONE, codec: "aac", sample_rate: 44_100, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::Near(128_000, 0.03) },
    Row { name: "m4b AAC mono", encoding: enc("m4b", &["-c:a", "aac", "-b:a", "64k", "-f", "mp4"], 22_050, 1),
        tags: Some((TagKind::Mp4, "Rock")), missing: NONE, codec: "aac", sample_rate: 22_050, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    Row { name: "m4a ALAC", encoding: enc("m4a", &["-c:a", "alac"], 44_100, 2),
        tags: Some((TagKind::Mp4, "Rock")), missing: NONE, codec: "alac", sample_rate: 44_100, bits: Some(16),
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    Row { name: "ogg vorbis 48 kHz mono", encoding: enc("ogg", &["-c:a", "libvorbis", "-q:a", "4"], 48_000, 1),
        tags: Some((TagKind::Vorbis, "Rock")), missing: NONE, codec: "vorbis", sample_rate: 48_000, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    // Opus decodes at 48 kHz whatever rate went in.
    Row { name: "opus from 22.05 kHz mono", encoding: enc("opus", &["-c:a", "libopus", "-b:a", "48k"], 22_050, 1),
        tags: Some((TagKind::Vorbis, "Rock")), missing: NONE, codec: "opus", sample_rate: 48_000, bits: None,
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
    // ASF records the play duration in 100 ns units, as ffprobe reads it; it has no track total.
    Row { name: "wma", encoding: enc("wma", &["-c:a", "wmav2", "-b:a", "128k"], 44_100, 2),
        tags: Some((TagKind::Asf, "Rock")), missing: &["track_total"], codec: "wma", sample_rate: 44_100,
        bits: None, duration: Duration::Probe(0.001), bitrate: Bitrate::OfFile },
    Row { name: "wavpack 16-bit, APEv2 by wvtag", encoding: enc("wv", &["-c:a", "wavpack"], 44_100, 2),
        tags: Some((TagKind::Ape, "Rock")), missing: NONE, codec: "wavpack", sample_rate: 44_100, bits: Some(16),
        duration: Duration::Exact, bitrate: Bitrate::OfFile },
];

/// `ffprobe`'s duration of the container at `path`.
fn ffprobe_duration(path: &std::path::Path) -> f64 {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(path));
    let text = String::from_utf8_lossy(&out);
    text.trim().parse().unwrap_or_else(|_| panic!("ffprobe duration `{text}`"))
}

fn number(track: &Value, field: &str, what: &str) -> f64 {
    track[field].as_f64().unwrap_or_else(|| panic!("{what}: `{field}` is not a number: {track}"))
}

#[test]
fn every_format_and_tag_version_reports_what_was_written() {
    let library = Library::empty();
    let files: Vec<String> = ROWS
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let rel = format!("Formats/{i:02} {}.{}", row.name.replace('/', "-"), row.encoding.ext);
            let bytes = match row.tags {
                Some((kind, genre)) => {
                    make(&row.encoding, kind, Some(&Song { genre, ..SONG }), &[])
                }
                None => untagged(&row.encoding),
            };
            library.add(&rel, &bytes);
            rel
        })
        .collect();
    let probed: Vec<f64> = files.iter().map(|rel| ffprobe_duration(&library.path(rel))).collect();
    let sizes: Vec<u64> = files.iter().map(|rel| library.read(rel).len() as u64).collect();
    let server = TestServer::start(library);

    let mut tracks = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let (rel, what) = (&files[i], row.name);
        let track = get_json(&server, &track_url(rel), &[]);
        let play_route =
            if matches!(row.encoding.ext, "wv" | "wma") { "stream/wav" } else { "stream" };
        let mut expected_tags = if row.tags.is_some() { SONG.api_tags() } else { json!({}) };
        for field in ALL_TAGS {
            if row.missing.contains(field) {
                expected_tags[*field] = Value::Null;
            }
        }
        let fixed = json!({
            "path": rel, "size": sizes[i], "mime": mime(row.encoding.ext), "codec": row.codec,
            "sample_rate": row.sample_rate, "channels": row.encoding.channels,
            "bits_per_sample": row.bits, "tags": expected_tags, "cover": null,
            "play": format!("/{play_route}/{}", pct_path(rel)),
        });
        for (field, want) in fixed.as_object().unwrap() {
            assert_eq!(&track[field], want, "{what}: `{field}` in {track}");
        }

        let duration = number(&track, "duration", what);
        match row.duration {
            Duration::Exact => {
                let slack = 0.5 / f64::from(row.encoding.rate) + 1e-6;
                let want = row.encoding.seconds;
                assert!(
                    (duration - want).abs() <= slack,
                    "{what}: duration {duration}, wrote {want} s"
                );
            }
            Duration::Frames(extra) => {
                let (written, rate) = (row.encoding.seconds, f64::from(row.encoding.rate));
                let most = written + f64::from(extra) / rate;
                assert!(
                    (written..=most).contains(&duration),
                    "{what}: duration {duration}, wrote {written} s"
                );
            }
            Duration::Probe(tolerance) => assert!(
                (duration - probed[i]).abs() <= tolerance,
                "{what}: duration {duration}, ffprobe {}",
                probed[i]
            ),
        }
        let bitrate = number(&track, "bitrate", what);
        let file_rate = sizes[i] as f64 * 8.0 / duration;
        let (low, high) = match row.bitrate {
            Bitrate::Exact(bits) => (bits as f64, bits as f64),
            Bitrate::Near(nominal, fraction) => {
                (nominal as f64 * (1.0 - fraction), nominal as f64 * (1.0 + fraction))
            }
            Bitrate::OfFile => (file_rate / 2.0, file_rate.ceil()),
        };
        assert!(
            (low..=high).contains(&bitrate),
            "{what}: bitrate {bitrate}, expected {low:.0}..={high:.0} ({row:?})",
            row = row.bitrate
        );
        tracks.push(track);
    }

    // A browse page gives each track object exactly as /api/track does.
    let page = get_json(&server, &browse_url("Formats", ""), &[]);
    assert_eq!(page["tracks"].as_array().unwrap(), &tracks, "browse vs /api/track");
}

fn mime(ext: &str) -> &'static str {
    match ext {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "m4a" | "m4b" => "audio/mp4",
        "ogg" => "audio/ogg",
        "opus" => "audio/opus",
        "wma" => "audio/x-ms-wma",
        _ => "audio/x-wavpack",
    }
}

#[test]
fn a_track_has_validators_and_answers_304_and_head_like_get() {
    let library = Library::empty();
    let mp3 = Encoding::short("mp3", MP3_CBR);
    library.add("Album/01 - song.mp3", &make(&mp3, TagKind::Id3v24, Some(&SONG), &[]));
    let server = TestServer::start(library);
    let first = assert_revalidates(&server, &track_url("Album/01 - song.mp3"), &[]);
    assert_eq!(first.json()["tags"]["title"], SONG.title);
}

/// Files whose header cannot be parsed: cut short inside it, or junk after a magic.
fn corrupt_files(library: &Library) -> Vec<&'static str> {
    let flac = Encoding::short("flac", &["-c:a", "flac"]);
    let m4a = Encoding::short("m4a", AAC);
    let wma = Encoding::short("wma", &["-c:a", "wmav2"]);
    let wv = Encoding::short("wv", &["-c:a", "wavpack"]);
    let ogg = Encoding::short("ogg", &["-c:a", "libvorbis"]);
    let wav = Encoding::short("wav", &["-c:a", "pcm_s16le"]);
    let cut = |encoding: &Encoding, len: usize| untagged(encoding)[..len].to_vec();
    let mut junk_flac = b"fLaC".to_vec();
    junk_flac.extend(crate::support::bytes::noise(7, 300));
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty.mp3", Vec::new()),
        ("noise.mp3", crate::support::bytes::noise(3, 4000)),
        ("id3 only.mp3", b"ID3\x04\x00\x00\x00\x00\x10\x00garbage".to_vec()),
        ("cut in streaminfo.flac", cut(&flac, 30)),
        ("junk after magic.flac", junk_flac),
        // ffmpeg puts the moov at the end: a cut file has none.
        ("moov cut off.m4a", cut(&m4a, 1000)),
        ("cut in header.wma", cut(&wma, 60)),
        ("cut in block header.wv", cut(&wv, 20)),
        ("cut in first page.ogg", cut(&ogg, 40)),
        ("cut in fmt.wav", cut(&wav, 30)),
    ];
    cases
        .into_iter()
        .map(|(name, bytes)| {
            library.add(&format!("Broken/{name}"), &bytes);
            name
        })
        .collect()
}

#[test]
fn unparsable_headers_are_422_alone_and_null_fields_in_a_browse_page() {
    let library = Library::empty();
    let broken = corrupt_files(&library);
    let good = Encoding::short("flac", &["-c:a", "flac"]);
    library.add("Broken/good.flac", &make(&good, TagKind::Vorbis, Some(&SONG), &[]));
    let server = TestServer::start(library);

    for name in &broken {
        let message = assert_error(&server, &track_url(&format!("Broken/{name}")), &[], 422);
        assert!(!message.is_empty(), "{name}");
    }
    let page = get_json(&server, &browse_url("Broken", ""), &[]);
    let tracks = page["tracks"].as_array().expect("tracks");
    assert_eq!(page["total"], broken.len() + 1, "{page}");
    assert_eq!(tracks.len(), broken.len() + 1, "{page}");
    for track in tracks {
        let path = track["path"].as_str().expect("path");
        if path == "Broken/good.flac" {
            assert_eq!(track["tags"], SONG.api_tags(), "{track}");
            assert_eq!(track["codec"], "flac", "{track}");
            continue;
        }
        for field in
            ["codec", "duration", "bitrate", "sample_rate", "channels", "bits_per_sample", "cover"]
        {
            assert_eq!(track[field], Value::Null, "{path}: `{field}` of a corrupt file: {track}");
        }
        assert!(track["tags"].as_object().unwrap().values().all(Value::is_null), "{track}");
        let route =
            if path.ends_with(".wv") || path.ends_with(".wma") { "stream/wav" } else { "stream" };
        assert_eq!(track["play"], format!("/{route}/{}", pct_path(path)), "{track}");
        assert!(track["size"].is_u64() && track["mime"].is_string(), "{track}");
    }
    server.assert_alive();
}
