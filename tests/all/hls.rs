//! `/hls/<path>/…`: HLS (RFC 8216) of every library format, read by ffmpeg as a player reads
//! it. The multivariant playlist lists the renditions a source gets (AAC-LC at 64, 128 and
//! 256 kbit/s, FLAC for a lossless source) and ffprobe finds each; every AAC rendition decodes
//! to the source's duration, the FLAC one to exactly the source's PCM (24 bits at 96 kHz
//! included); the `EXTINF`s add up to the source's duration to the microsecond; a sine stays a
//! sine across segment joins; a segment is the same bytes whichever request made it, with
//! ranges, validators and HEAD; no segment passes its rendition's `BANDWIDTH`; the tenant's
//! `max_bitrate` and token reach the playlists; and bad requests get JSON errors.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::support::byteranges::assert_ranges;
use crate::support::bytes::noise;
use crate::support::config::{ConfigDir, Tenant};
use crate::support::http::{self, Response};
use crate::support::library::MTIME_HTTP;
use crate::support::media::{Format, encoded, ffmpeg};
use crate::support::{Library, TestServer, assert_same_bytes, run, tone};

/// Seconds of every source: three segments of about 6 s, the last one short.
const SOURCE_SECONDS: u64 = 14;
/// The tone of every source: 0.5 of full scale on the left (or only) channel, 0.25 on the
/// right, so a swap of channels shows.
const TONE_HZ: u32 = 1000;
/// The media type of playlists.
const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// The media type of initialization and media segments.
const SEGMENT_TYPE: &str = "audio/mp4";
/// Samples in an AAC-LC packet.
const AAC_PACKET: u64 = 1024;
/// Samples in a FLAC frame of a rendition (the last may have fewer).
const FLAC_BLOCK: u64 = 4096;
/// The AAC-LC bitrates offered when the tenant has no cap, in kbit/s.
const AAC_KBPS: [u32; 3] = [64, 128, 256];

/// How a source file is made from the tone.
#[derive(Clone, Copy)]
enum Maker {
    /// `ffmpeg` with these encoder arguments.
    Ffmpeg(&'static [&'static str]),
    /// The `wavpack` CLI, from a 16-bit WAV.
    Wavpack,
}

/// How long the server is to say a source lasts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Length {
    /// Exactly the tone's [`SOURCE_SECONDS`]: the container records it (FLAC, WAV and WavPack
    /// headers, an MP4's edit list, Ogg granule positions and Opus pre-skip, MP3's LAME tag).
    Exact,
    /// ffprobe's duration of the file: ASF holds milliseconds, and a WMA decoder pads its
    /// last frame.
    Probed,
}

/// A source file: its path, how it is made, its rate, channels and bits, whether it is
/// lossless, the rate of its AAC renditions, and how exactly its length is known.
struct Case {
    file: &'static str,
    maker: Maker,
    rate: u32,
    channels: u8,
    bits: u8,
    lossless: bool,
    aac_rate: u32,
    length: Length,
}

use Length::{Exact, Probed};
use Maker::{Ffmpeg, Wavpack};

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { file: "Tones Ü/cd.flac", maker: Ffmpeg(&["-c:a", "flac", "-sample_fmt", "s16"]), rate: 44_100, channels: 2, bits: 16, lossless: true, aac_rate: 44_100, length: Exact },
    Case { file: "Tones Ü/hi-res 24-bit.flac", maker: Ffmpeg(&["-c:a", "flac", "-sample_fmt", "s32"]), rate: 96_000, channels: 2, bits: 24, lossless: true, aac_rate: 48_000, length: Exact },
    Case { file: "Tones Ü/mono.wav", maker: Ffmpeg(&["-c:a", "pcm_s16le"]), rate: 48_000, channels: 1, bits: 16, lossless: true, aac_rate: 48_000, length: Exact },
    Case { file: "Tones Ü/wavpack.wv", maker: Wavpack, rate: 44_100, channels: 2, bits: 16, lossless: true, aac_rate: 44_100, length: Exact },
    Case { file: "Tones Ü/alac.m4a", maker: Ffmpeg(&["-c:a", "alac", "-sample_fmt", "s16p"]), rate: 44_100, channels: 2, bits: 16, lossless: true, aac_rate: 44_100, length: Exact },
    Case { file: "Tones Ü/lame.mp3", maker: Ffmpeg(&["-c:a", "libmp3lame", "-b:a", "128k"]), rate: 44_100, channels: 2, bits: 16, lossless: false, aac_rate: 44_100, length: Exact },
    Case { file: "Tones Ü/aac.m4a", maker: Ffmpeg(&["-c:a", "aac", "-b:a", "128k"]), rate: 44_100, channels: 2, bits: 16, lossless: false, aac_rate: 44_100, length: Exact },
    Case { file: "Tones Ü/vorbis.ogg", maker: Ffmpeg(&["-c:a", "libvorbis"]), rate: 22_050, channels: 1, bits: 16, lossless: false, aac_rate: 22_050, length: Exact },
    Case { file: "Tones Ü/opus.opus", maker: Ffmpeg(&["-c:a", "libopus", "-b:a", "64k"]), rate: 48_000, channels: 2, bits: 16, lossless: false, aac_rate: 48_000, length: Exact },
    Case { file: "Tones Ü/wma.wma", maker: Ffmpeg(&["-c:a", "wmav2", "-b:a", "128k"]), rate: 44_100, channels: 2, bits: 16, lossless: false, aac_rate: 44_100, length: Probed },
];

/// The 44.1 kHz stereo FLAC of [`CASES`].
const CD: &Case = &CASES[0];

/// Samples in every segment of a rendition at `aac_rate` but the last: 4096·n, about 6 s.
fn segment_samples(aac_rate: u32) -> u64 {
    match aac_rate {
        22_050 => 131_072,
        44_100 => 266_240,
        48_000 => 286_720,
        _ => panic!("no segment length for {aac_rate} Hz in this table"),
    }
}

/// A rendition's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Aac(u32),
    Flac,
}

/// A rendition the server is to offer.
struct Rendition {
    codec: Codec,
    rate: u32,
    channels: u8,
    bits: u8,
    /// Samples in every segment but the last, at `rate`.
    segment: u64,
}

impl Rendition {
    /// Its path segment: `aac-128`, `flac`.
    fn name(&self) -> String {
        match self.codec {
            Codec::Aac(kbps) => format!("aac-{kbps}"),
            Codec::Flac => "flac".to_owned(),
        }
    }

    /// Its `CODECS` attribute and ffprobe's `codec_name`.
    fn codecs(&self) -> (&'static str, &'static str) {
        match self.codec {
            Codec::Aac(_) => ("mp4a.40.2", "aac"),
            Codec::Flac => ("fLaC", "flac"),
        }
    }

    /// Its bit rate without headers: the AAC bitrate, or the PCM's.
    fn nominal(&self) -> u64 {
        match self.codec {
            Codec::Aac(kbps) => u64::from(kbps) * 1000,
            Codec::Flac => u64::from(self.rate) * u64::from(self.channels) * u64::from(self.bits),
        }
    }

    /// The raw PCM format ffmpeg decodes it to.
    fn pcm(&self) -> &'static str {
        if self.bits > 16 { "s32le" } else { "s16le" }
    }

    /// Samples in each packet (AAC) or frame (FLAC).
    fn packet(&self) -> u64 {
        match self.codec {
            Codec::Aac(_) => AAC_PACKET,
            Codec::Flac => FLAC_BLOCK,
        }
    }
}

impl Case {
    /// `/hls/<file>/<tail>`.
    fn url(&self, tail: &str) -> String {
        hls_url(self.file, tail)
    }

    /// The renditions it gets with no cap, in the playlist's order.
    fn renditions(&self) -> Vec<Rendition> {
        let segment = segment_samples(self.aac_rate);
        let aac = |kbps| Rendition {
            codec: Codec::Aac(kbps),
            rate: self.aac_rate,
            channels: self.channels,
            bits: 16,
            segment,
        };
        let mut renditions: Vec<Rendition> = AAC_KBPS.into_iter().map(aac).collect();
        if self.lossless {
            renditions.push(Rendition {
                codec: Codec::Flac,
                rate: self.rate,
                channels: self.channels,
                bits: self.bits,
                segment: segment * u64::from(self.rate) / u64::from(self.aac_rate),
            });
        }
        renditions
    }

    /// Samples per channel of the source at `rate`.
    fn samples_at(&self, rate: u32, library: &Library) -> u64 {
        let samples = match self.length {
            Exact => SOURCE_SECONDS * u64::from(self.rate),
            Probed => {
                (probed_seconds(&library.path(self.file)) * f64::from(self.rate)).round() as u64
            }
        };
        samples * u64::from(rate) / u64::from(self.rate)
    }

    /// Writes the tone in its format to `library`, with the library's fixed mtime.
    fn add_to(&self, library: &Library) {
        let scratch = tempfile::tempdir().unwrap();
        let ext = self.file.rsplit_once('.').unwrap().1;
        let out = scratch.path().join(format!("source.{ext}"));
        let left = format!("0.5*sin(2*PI*{TONE_HZ}*t)");
        let exprs =
            if self.channels == 1 { left } else { format!("{left}|0.25*sin(2*PI*{TONE_HZ}*t)") };
        let tone = format!("aevalsrc={exprs}:s={}:d={SOURCE_SECONDS}", self.rate);
        let mut command = ffmpeg();
        command.args(["-f", "lavfi", "-i", &tone]);
        match self.maker {
            Ffmpeg(codec) => run(command.args(codec).arg(&out)),
            Wavpack => {
                let wav = scratch.path().join("source.wav");
                run(command.args(["-c:a", "pcm_s16le"]).arg(&wav));
                run(Command::new("wavpack").args(["-q", "-y"]).arg(&wav).arg("-o").arg(&out))
            }
        };
        library.add(self.file, &std::fs::read(&out).unwrap());
    }
}

/// `/hls/<rel>/<tail>` with `rel` percent-encoded.
fn hls_url(rel: &str, tail: &str) -> String {
    format!("/hls/{}/{tail}", http::pct_path(rel))
}

/// The absolute URL of `target` on `server`, for ffmpeg.
fn http_url(server: &TestServer, target: &str) -> String {
    format!("http://{}{target}", server.addr())
}

/// The target a playlist's relative `uri` names from the playlist at `base`.
fn resolve(base: &str, uri: &str) -> String {
    let path = base.split('?').next().unwrap();
    format!("{}/{uri}", path.rsplit_once('/').unwrap().0)
}

fn library_of(cases: &[&Case]) -> Library {
    let library = Library::empty();
    for case in cases {
        case.add_to(&library);
    }
    library
}

/// ffprobe's duration of the file at `path`, in seconds.
fn probed_seconds(path: &Path) -> f64 {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(path));
    String::from_utf8_lossy(&out).trim().parse().expect("a duration")
}

/// What ffmpeg decodes `input` (a file, or a playlist's URL) to: raw PCM, `args` saying how.
fn decode(input: impl AsRef<OsStr>, args: &[&str]) -> Vec<u8> {
    run(ffmpeg().arg("-i").arg(input).args(args).arg("pipe:1"))
}

/// The audio streams ffprobe finds at `url`: codec, rate, channels.
fn probed_streams(url: &str) -> Vec<(String, u32, u8)> {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels"])
        .args(["-of", "json", url]));
    let json: serde_json::Value = serde_json::from_slice(&out).expect("ffprobe's JSON");
    let streams = json["streams"].as_array().expect("streams");
    let field = |stream: &serde_json::Value, name: &str| stream[name].to_string().replace('"', "");
    streams
        .iter()
        .map(|s| {
            let number = |name| field(s, name).parse().expect("a number");
            (field(s, "codec_name"), number("sample_rate"), number("channels") as u8)
        })
        .collect()
}

/// GET and HEAD `target`: a 200 playlist; its text.
#[track_caller]
fn get_playlist(server: &TestServer, target: &str) -> String {
    let response = server.get_and_head(target, &[], target);
    assert_eq!(response.status, 200, "{target}: {}", response.summary());
    assert_eq!(response.header("content-type").as_deref(), Some(PLAYLIST_TYPE), "{target}");
    response.text()
}

/// GET `target`: a 200 segment.
#[track_caller]
fn get_segment(server: &TestServer, target: &str) -> Response {
    let response = server.get(target, &[]);
    assert_eq!(response.status, 200, "{target}: {}", response.summary());
    assert_eq!(response.header("content-type").as_deref(), Some(SEGMENT_TYPE), "{target}");
    response
}

/// One `EXT-X-STREAM-INF` of a multivariant playlist.
struct Variant {
    uri: String,
    bandwidth: u64,
    codecs: String,
}

/// The variants of a multivariant playlist, every line checked.
#[track_caller]
fn variants(text: &str) -> Vec<Variant> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
    let mut variants = Vec::new();
    while let Some(line) = lines.next() {
        let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            let known = ["#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
            assert!(known.contains(&line), "unexpected line `{line}` in {text}");
            continue;
        };
        let attribute = |name: &str| {
            let value = attributes.split(',').find_map(|a| a.strip_prefix(name)?.strip_prefix('='));
            value.unwrap_or_else(|| panic!("no {name} in `{line}`")).to_owned()
        };
        let uri = lines.next().filter(|uri| !uri.starts_with('#'));
        variants.push(Variant {
            uri: uri.unwrap_or_else(|| panic!("no URI after `{line}`")).to_owned(),
            bandwidth: attribute("BANDWIDTH").parse().expect("a BANDWIDTH"),
            codecs: attribute("CODECS").trim_matches('"').to_owned(),
        });
    }
    variants
}

/// A media playlist: `EXT-X-TARGETDURATION`, the `EXT-X-MAP` URI, each segment's URI and
/// `EXTINF` in microseconds.
struct MediaPlaylist {
    target: u64,
    map: String,
    segments: Vec<(String, u64)>,
}

/// A VOD media playlist, every line checked.
#[track_caller]
fn media_playlist(text: &str) -> MediaPlaylist {
    let required = [
        "#EXT-X-VERSION:7",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ];
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
    assert_eq!(text.lines().last(), Some("#EXT-X-ENDLIST"), "{text}");
    let (mut target, mut map, mut segments, mut tags) = (None, None, Vec::new(), Vec::new());
    while let Some(line) = lines.next() {
        if let Some(secs) = line.strip_prefix("#EXTINF:") {
            let uri = lines.next().filter(|uri| !uri.starts_with('#'));
            let uri = uri.unwrap_or_else(|| panic!("no URI after `{line}` in {text}"));
            segments.push((uri.to_owned(), micros(secs.strip_suffix(',').expect(line))));
        } else if let Some(secs) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = Some(secs.parse().expect(line));
        } else if let Some(uri) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            map = Some(uri.strip_suffix('"').expect(line).to_owned());
        } else if line != "#EXT-X-ENDLIST" {
            assert!(required.contains(&line), "unexpected line `{line}` in {text}");
            tags.push(line);
        }
    }
    tags.sort_unstable();
    let mut want = required.to_vec();
    want.sort_unstable();
    assert_eq!(tags, want, "{text}");
    MediaPlaylist {
        target: target.unwrap_or_else(|| panic!("no target duration in {text}")),
        map: map.unwrap_or_else(|| panic!("no EXT-X-MAP in {text}")),
        segments,
    }
}

/// `secs` with exactly six decimals, in microseconds.
#[track_caller]
fn micros(secs: &str) -> u64 {
    let (whole, fraction) = secs.split_once('.').expect(secs);
    assert_eq!(fraction.len(), 6, "EXTINF `{secs}` is not to the microsecond");
    whole.parse::<u64>().expect(secs) * 1_000_000 + fraction.parse::<u64>().expect(secs)
}

/// `samples` at `rate` in microseconds, rounded.
fn samples_micros(samples: u64, rate: u32) -> u64 {
    (samples * 1_000_000 + u64::from(rate) / 2) / u64::from(rate)
}

/// The content of the first box of type `kind` among the boxes at the top of `bytes`.
#[track_caller]
fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
    let mut rest = bytes;
    while rest.len() >= 8 {
        let size = be(&rest[..4]) as usize;
        assert!((8..=rest.len()).contains(&size), "a box of {size} bytes in {}", rest.len());
        if &rest[4..8] == kind {
            return &rest[8..size];
        }
        rest = &rest[size..];
    }
    panic!("no `{}` box", String::from_utf8_lossy(kind));
}

/// A big-endian number.
fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |n, &b| n << 8 | u64::from(b))
}

/// Checks media segment `index` of `rendition` (of `samples` in all): a `moof` of sequence
/// `index + 1` whose samples start at the segment's first, one packet each, then the `mdat`.
#[track_caller]
fn assert_segment(body: &[u8], rendition: &Rendition, samples: u64, index: u64, what: &str) {
    let first = index * rendition.segment;
    let len = rendition.segment.min(samples - first);
    let moof = child(body, b"moof");
    assert_eq!(be(&child(moof, b"mfhd")[4..8]), index + 1, "{what}: sequence");
    let traf = child(moof, b"traf");
    assert_eq!(be(&child(traf, b"tfdt")[4..12]), first, "{what}: decode time");
    let packets = len.div_ceil(rendition.packet());
    assert_eq!(be(&child(traf, b"trun")[4..8]), packets, "{what}: packets");
    let mdat = child(body, b"mdat");
    assert_eq!(moof.len() + mdat.len() + 16, body.len(), "{what}: moof and mdat, nothing else");
}

#[test]
fn every_format_lists_its_renditions_and_each_decodes_to_the_source() {
    let cases: Vec<&Case> = CASES.iter().collect();
    let server = TestServer::start(library_of(&cases));
    for case in CASES {
        let what = case.file;
        let renditions = case.renditions();
        let listed = variants(&get_playlist(&server, &case.url("index.m3u8")));
        let uris: Vec<&str> = listed.iter().map(|v| v.uri.as_str()).collect();
        let want: Vec<String> =
            renditions.iter().map(|r| format!("{}/index.m3u8", r.name())).collect();
        assert_eq!(uris, want, "{what}");
        for (variant, rendition) in listed.iter().zip(&renditions) {
            assert_eq!(variant.codecs, rendition.codecs().0, "{what}: {}", variant.uri);
            let nominal = rendition.nominal();
            assert!(variant.bandwidth > nominal, "{what}: {} under {nominal}", variant.bandwidth);
        }
        let streams = probed_streams(&http_url(&server, &case.url("index.m3u8")));
        let want: Vec<(String, u32, u8)> =
            renditions.iter().map(|r| (r.codecs().1.to_owned(), r.rate, r.channels)).collect();
        assert_eq!(streams, want, "{what}: what ffprobe finds");

        for rendition in &renditions {
            let what = format!("{what}: {}", rendition.name());
            let url = http_url(&server, &case.url(&format!("{}/index.m3u8", rendition.name())));
            let pcm = decode(&url, &["-f", rendition.pcm()]);
            if rendition.codec == Codec::Flac {
                let source = decode(server.library().path(case.file), &["-f", rendition.pcm()]);
                assert_same_bytes(&pcm, &source, &format!("{what}: the source's PCM"));
                continue;
            }
            // Whole packets: the source's samples and the last packet's padding.
            let decoded = pcm.len() as u64 / (2 * u64::from(case.channels));
            let samples = case.samples_at(rendition.rate, server.library());
            assert!(
                (samples..samples + AAC_PACKET).contains(&decoded),
                "{what}: {decoded} samples decoded for {samples}"
            );
        }
    }
}

#[test]
fn extinfs_add_up_to_the_sources_duration_to_the_microsecond() {
    let cases: Vec<&Case> = CASES.iter().collect();
    let server = TestServer::start(library_of(&cases));
    for case in CASES {
        for rendition in case.renditions() {
            let what = format!("{}: {}", case.file, rendition.name());
            let playlist =
                get_playlist(&server, &case.url(&format!("{}/index.m3u8", rendition.name())));
            let playlist = media_playlist(&playlist);
            assert_eq!(playlist.map, "init.mp4", "{what}");
            let samples = case.samples_at(rendition.rate, server.library());
            let count = samples.div_ceil(rendition.segment);
            let uris: Vec<&str> = playlist.segments.iter().map(|s| s.0.as_str()).collect();
            let want: Vec<String> = (0..count).map(|k| format!("{k}.m4s")).collect();
            assert_eq!(uris, want, "{what}");
            let total: u64 = playlist.segments.iter().map(|s| s.1).sum();
            let duration = samples_micros(samples, rendition.rate);
            assert_eq!(total, duration, "{what}: EXTINFs in µs, for {samples} samples");
            let whole = samples_micros(rendition.segment, rendition.rate);
            for (uri, extinf) in &playlist.segments[..playlist.segments.len() - 1] {
                assert!(extinf.abs_diff(whole) <= 1, "{what}: {uri} lasts {extinf} µs");
            }
            for (uri, extinf) in &playlist.segments {
                let rounded = (extinf + 500_000) / 1_000_000;
                assert!(rounded <= playlist.target, "{what}: {uri} of {extinf} µs");
            }
            assert!(playlist.target <= whole / 1_000_000 + 1, "{what}: {}", playlist.target);
        }
    }
}

#[test]
fn a_sine_stays_a_sine_across_segment_joins() {
    #[rustfmt::skip]
    let case = Case { file: "48k.flac", maker: Ffmpeg(&["-c:a", "flac", "-sample_fmt", "s16"]), rate: 48_000, channels: 2, bits: 16, lossless: true, aac_rate: 48_000, length: Exact };
    let server = TestServer::start(library_of(&[&case]));
    let mono = ["-ac", "1", "-f", "s16le"];
    let to_samples = |pcm: Vec<u8>| -> Vec<i16> {
        pcm.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]])).collect()
    };
    let url = http_url(&server, &case.url("aac-128/index.m3u8"));
    let pcm = to_samples(decode(&url, &mono));
    let source = to_samples(decode(server.library().path(case.file), &mono));
    let (got, want) = (pcm.len() as u64, source.len() as u64);
    assert!((want..want + AAC_PACKET).contains(&got), "{got} samples decoded for {want}");
    // Per 10 ms window (10 periods): the level is the sine's and it crosses zero 20 times, but
    // in the first window (the stream's first packet decodes without one before it).
    let windows = tone::windows(&pcm, &source);
    for (n, w) in windows.iter().enumerate().skip(1) {
        assert!(
            (w.level / w.want - 1.0).abs() < 0.1,
            "window {n}: RMS {:.1} for {:.1}",
            w.level,
            w.want
        );
        assert!((19..=21).contains(&w.crossings), "window {n}: {} zero crossings", w.crossings);
    }
    // The coding error against the source stays under 8 % of the sine's RMS (it peaks at 6 %
    // here; a slip of one sample is 13 %) from the sixth window (before it, the encoder's
    // onset, which a whole-file encode has too) to the last two (where the sine stops); at
    // every join it is as small as anywhere.
    let mut errors: Vec<f64> = windows.iter().map(|w| w.error).collect();
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    for (n, w) in windows.iter().enumerate().take(windows.len() - 2).skip(5) {
        assert!(w.error < 0.08 * w.want, "window {n}: error {:.1} for RMS {:.1}", w.error, w.want);
    }
    let segment = segment_samples(case.aac_rate) as usize;
    for join in (segment..source.len()).step_by(segment) {
        let around = windows.iter().enumerate().skip(join / tone::WINDOW - 1).take(3);
        for (n, w) in around {
            assert!(
                w.error <= 3.0 * median + 10.0,
                "window {n} at sample {join}: error {:.1}, median {median:.1}",
                w.error
            );
        }
    }
}

#[test]
fn a_segment_is_the_same_bytes_whichever_request_made_it() {
    let server = TestServer::start(library_of(&[CD]));
    for rendition in
        CD.renditions().into_iter().filter(|r| [Codec::Aac(128), Codec::Flac].contains(&r.codec))
    {
        let name = rendition.name();
        let samples = CD.samples_at(rendition.rate, server.library());
        let segment = |index: u64| CD.url(&format!("{name}/{index}.m4s"));
        // On a fresh server, segment 2 first: made with nothing made before it.
        let first = get_segment(&server, &segment(2));
        let segments: Vec<Response> = (0..3)
            .map(|index| server.get_and_head(&segment(index), &[], &segment(index)))
            .collect();
        let again = get_segment(&server, &segment(2));
        assert_same_bytes(
            &first.body,
            &segments[2].body,
            &format!("{name}: 2 first, then in order"),
        );
        assert_same_bytes(&again.body, &segments[2].body, &format!("{name}: 2 again"));
        let mut etags = Vec::new();
        for (index, response) in (0..).zip(&segments) {
            let what = format!("{name}/{index}.m4s");
            assert_eq!(response.status, 200, "{what}: {}", response.summary());
            assert_eq!(response.header("content-type").as_deref(), Some(SEGMENT_TYPE), "{what}");
            assert_eq!(response.header("accept-ranges").as_deref(), Some("bytes"), "{what}");
            assert_eq!(response.header("last-modified").as_deref(), Some(MTIME_HTTP), "{what}");
            assert_eq!(response.content_length(), response.body.len() as u64, "{what}");
            assert_segment(&response.body, &rendition, samples, index, &what);
            let etag = response.expect_header("etag");
            let revalidated = server.get(&segment(index), &[("If-None-Match", &etag)]);
            assert_eq!(revalidated.status, 304, "{what}: {}", revalidated.summary());
            etags.push(etag);
        }
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), 3, "{name}: an ETag per segment: {etags:?}");
        let past = server.get_and_head(&segment(3), &[], "past the end");
        assert_eq!(past.status, 404, "{name}/3.m4s: {}", past.summary());
        past.expect_json_error();

        // Ranges are slices of the whole segment.
        let full = &segments[1].body;
        let len = full.len() as u64;
        let target = segment(1);
        let cases: [(&str, &[(u64, u64)]); 3] = [
            ("bytes=100-4999", &[(100, 4999)]),
            ("bytes=-500", &[(len - 500, len - 1)]),
            ("bytes=0-99,2000-2999", &[(0, 99), (2000, 2999)]),
        ];
        for (range, want) in cases {
            let response = server.get(&target, &[("Range", range)]);
            assert_ranges(&response, full, want, SEGMENT_TYPE, &format!("{target} {range}"));
        }

        let init = CD.url(&format!("{name}/init.mp4"));
        let (a, b) = (server.get_and_head(&init, &[], &init), server.get(&init, &[]));
        assert_eq!(a.status, 200, "{init}: {}", a.summary());
        assert_eq!(a.header("content-type").as_deref(), Some(SEGMENT_TYPE), "{init}");
        assert_same_bytes(&b.body, &a.body, &format!("{init} twice"));
        child(child(&a.body, b"moov"), b"mvex");
        let revalidated = server.get(&init, &[("If-None-Match", &a.expect_header("etag"))]);
        assert_eq!(revalidated.status, 304, "{init}: {}", revalidated.summary());
    }
    let playlist = CD.url("index.m3u8");
    let etag = server.get(&playlist, &[]).expect_header("etag");
    let revalidated = server.get(&playlist, &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304, "{playlist}: {}", revalidated.summary());
}

#[test]
fn no_segment_passes_its_renditions_bandwidth() {
    // White noise: what AAC's rate control and FLAC compress worst.
    let library = Library::empty();
    let scratch = tempfile::tempdir().unwrap();
    let raw = scratch.path().join("noise.raw");
    std::fs::write(&raw, noise(0x0068_6c73, 44_100 * 4 * SOURCE_SECONDS as usize)).unwrap();
    let flac = scratch.path().join("noise.flac");
    run(ffmpeg()
        .args(["-f", "s16le", "-ar", "44100", "-ac", "2", "-i"])
        .arg(&raw)
        .args(["-c:a", "flac"])
        .arg(&flac));
    library.add("noise.flac", &std::fs::read(&flac).unwrap());
    let server = TestServer::start(library);
    let variants = variants(&get_playlist(&server, &hls_url("noise.flac", "index.m3u8")));
    assert_eq!(variants.len(), 4, "AAC at three bitrates and FLAC");
    for variant in &variants {
        let target = hls_url("noise.flac", &variant.uri);
        let playlist = media_playlist(&get_playlist(&server, &target));
        let sizes: Vec<(u64, u64)> = playlist
            .segments
            .iter()
            .map(|(uri, extinf)| {
                (get_segment(&server, &resolve(&target, uri)).body.len() as u64, *extinf)
            })
            .collect();
        let bits_per_sec = |(bytes, micros): (u64, u64)| bytes * 8 * 1_000_000 / micros;
        let (last, whole) = sizes.split_last().unwrap();
        let before = whole.last().unwrap();
        let runs = whole.iter().copied().chain([(before.0 + last.0, before.1 + last.1)]);
        for (index, run) in runs.enumerate() {
            let rate = bits_per_sec(run);
            assert!(
                rate <= variant.bandwidth,
                "{}: segment {index} at {rate} bit/s over {}",
                variant.uri,
                variant.bandwidth
            );
        }
    }
}

#[test]
fn the_tenants_max_bitrate_caps_the_renditions_offered() {
    // (max_bitrate, renditions of a CD FLAC: PCM at 1411.2 kbit/s)
    let caps: [(u64, &[&str]); 5] = [
        (48, &["aac-48"]),
        (128, &["aac-64", "aac-128"]),
        (256, &["aac-64", "aac-128", "aac-256"]),
        (1411, &["aac-64", "aac-128", "aac-256"]),
        (1412, &["aac-64", "aac-128", "aac-256", "flac"]),
    ];
    let library = library_of(&[CD]);
    let tenants: Vec<Tenant> = caps
        .iter()
        .map(|(cap, _)| {
            Tenant::new(&format!("cap{cap}"), library.music_dir())
                .path_prefix(&format!("/cap{cap}"))
                .limit("max_bitrate", *cap)
        })
        .collect();
    let config = ConfigDir::new();
    let server = TestServer::start_config(&config.config("tapedeck.toml", false, &tenants));
    let every = ["aac-48", "aac-64", "aac-128", "aac-256", "flac"];
    let mut etags = Vec::new();
    for (cap, want) in caps {
        let prefix = format!("/cap{cap}");
        let multivariant = format!("{prefix}{}", CD.url("index.m3u8"));
        let listed = variants(&get_playlist(&server, &multivariant));
        let uris: Vec<&str> = listed.iter().map(|v| v.uri.as_str()).collect();
        let want_uris: Vec<String> = want.iter().map(|name| format!("{name}/index.m3u8")).collect();
        assert_eq!(uris, want_uris, "max_bitrate {cap}");
        etags.push(server.get(&multivariant, &[]).expect_header("etag"));
        for name in every {
            let target = format!("{prefix}{}", CD.url(&format!("{name}/index.m3u8")));
            let response = server.get_and_head(&target, &[], &target);
            let status = if want.contains(&name) { 200 } else { 404 };
            assert_eq!(response.status, status, "{target}: {}", response.summary());
            if status == 404 {
                response.expect_json_error();
            }
        }
        // The top rendition's first segment, within its BANDWIDTH.
        let top = listed.last().unwrap();
        let segment =
            get_segment(&server, &resolve(&multivariant, &top.uri.replace("index.m3u8", "0.m4s")));
        let rate =
            segment.body.len() as u64 * 8 * u64::from(CD.rate) / segment_samples(CD.aac_rate);
        assert!(rate <= top.bandwidth, "max_bitrate {cap}: {rate} bit/s over {}", top.bandwidth);
    }
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), caps.len(), "a multivariant ETag per cap: {etags:?}");
}

#[test]
fn a_token_on_the_request_is_carried_onto_every_uri() {
    const TOKEN: &str = "hls-s3cret";
    let library = library_of(&[CD]);
    let tenant = Tenant::new("bob", library.music_dir()).path_prefix("/bob").token(TOKEN);
    let config = ConfigDir::new();
    let server = TestServer::start_config(&config.config("tapedeck.toml", false, &[tenant]));
    let query = format!("?token={TOKEN}");
    let multivariant = format!("/bob{}{query}", CD.url("index.m3u8"));
    let listed = variants(&get_playlist(&server, &multivariant));
    assert_eq!(listed.len(), 4, "AAC at three bitrates and FLAC");
    let mut fetched = Vec::new();
    for variant in &listed {
        assert!(variant.uri.ends_with(&query), "{}", variant.uri);
        let media = resolve(&multivariant, &variant.uri);
        let playlist = media_playlist(&get_playlist(&server, &media));
        assert!(playlist.map.ends_with(&query), "{media}: {}", playlist.map);
        for (uri, _) in &playlist.segments {
            assert!(uri.ends_with(&query), "{media}: {uri}");
        }
        fetched.push(resolve(&media, &playlist.map));
        fetched.push(resolve(&media, &playlist.segments[0].0));
        fetched.push(media);
    }
    for target in &fetched {
        assert_eq!(server.get(target, &[]).status, 200, "{target}");
    }
    // A player follows the URIs: every segment carries the token.
    let aac = http_url(&server, &resolve(&multivariant, &listed[0].uri));
    let pcm = decode(&aac, &["-f", "s16le"]);
    let samples = CD.samples_at(CD.aac_rate, &library);
    let decoded = pcm.len() as u64 / 4;
    assert!((samples..samples + AAC_PACKET).contains(&decoded), "{decoded} samples for {samples}");

    // Without it, or with a wrong one: refused, as anywhere in the tenant.
    let stripped: Vec<String> = fetched.iter().map(|t| t.replace(&query, "")).collect();
    let wrong: Vec<String> = fetched.iter().map(|t| t.replace(TOKEN, "wrong")).collect();
    for target in stripped.iter().chain(&wrong).chain([&multivariant.replace(&query, "")]) {
        let response = server.get(target, &[]);
        assert_eq!(response.status, 401, "{target}: {}", response.summary());
        assert_eq!(response.header("www-authenticate").as_deref(), Some("Bearer"), "{target}");
        response.expect_json_error();
    }
    // Given as a bearer token, it is not written into the playlists; of other parameters,
    // only the token is carried.
    let bearer = format!("Bearer {TOKEN}");
    let plain = format!("/bob{}", CD.url("index.m3u8"));
    let response = server.get(&plain, &[("Authorization", &bearer)]);
    assert_eq!(response.status, 200, "{}", response.summary());
    assert!(variants(&response.text()).iter().all(|v| !v.uri.contains('?')), "{}", response.text());
    let mixed = format!("{plain}?x=1&token={TOKEN}&y=2");
    let listed = variants(&get_playlist(&server, &mixed));
    assert!(listed.iter().all(|v| v.uri.ends_with(&format!("/index.m3u8{query}"))), "{mixed}");
}

#[test]
fn bad_requests_get_json_errors() {
    let library = Library::empty();
    library.add("a.flac", &encoded(Format::Flac));
    library.add("a.mp3", &encoded(Format::Mp3));
    library.add("notes.txt", b"not audio\n");
    library.add("garbage.flac", &noise(0x6761_7262, 5000));
    library.add("empty.flac", b"");
    library.add("dir.flac/inside.flac", &encoded(Format::Flac));
    let server = TestServer::start(library);
    // What the errors below are not: a one-second FLAC has one segment, an MP3 no FLAC.
    for target in ["/hls/a.flac/index.m3u8", "/hls/a.flac/flac/0.m4s", "/hls/a.mp3/aac-64/0.m4s"] {
        assert_eq!(server.get(target, &[]).status, 200, "{target}");
    }
    #[rustfmt::skip]
    let cases: &[(&str, u16)] = &[
        ("/hls/missing.flac/index.m3u8", 404),
        ("/hls/a.flac/opus/index.m3u8", 404),
        ("/hls/a.flac/aac-96/index.m3u8", 404),
        ("/hls/a.flac/aac-64/999.m4s", 404),
        ("/hls/a.flac/aac-64/1.m4s", 404),
        ("/hls/a.flac/aac-064/0.m4s", 404),
        ("/hls/a.flac/aac-64/00.m4s", 404),
        ("/hls/a.flac/aac-64/0.ts", 404),
        ("/hls/a.flac/aac-64/", 404),
        ("/hls/a.flac", 404),
        ("/hls/a.mp3/flac/index.m3u8", 404),
        ("/hls/a.mp3/flac/init.mp4", 404),
        ("/hls/notes.txt/index.m3u8", 404),
        ("/hls/notes.txt/aac-64/0.m4s", 404),
        ("/hls/dir.flac/index.m3u8", 404),
        ("/hls/garbage.flac/index.m3u8", 422),
        ("/hls/garbage.flac/aac-64/0.m4s", 422),
        ("/hls/empty.flac/index.m3u8", 422),
        ("/hls/../x.flac/index.m3u8", 403),
        ("/hls/%2e%2e/x.flac/index.m3u8", 403),
        ("/hls/a.flac%00/index.m3u8", 400),
    ];
    let root = server.library().root().to_string_lossy().into_owned();
    for &(target, status) in cases {
        let response = server.get_and_head(target, &[], target);
        assert_eq!(response.status, status, "{target}: {}", response.summary());
        let message = response.expect_json_error();
        assert!(!message.contains(&root), "{target}: {message}");
    }
    let post = server.request("POST", "/hls/a.flac/index.m3u8", &[]);
    assert_eq!(post.status, 405, "{}", post.summary());
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
}
