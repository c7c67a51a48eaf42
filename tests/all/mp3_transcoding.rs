//! `/stream/mp3/<path>?bitrate=K`: every library format as seekable constant-bitrate MP3.
//! Exact lengths, every frame's header, ranges as slices of one stream whoever asked first,
//! the duration players read (ffmpeg's and Chromium's, which seeks it by a range), a sine
//! that stays a sine across the encoder's block joins, and the tenant's bitrate limit.

use std::path::Path;
use std::process::Command;

use crate::support::byteranges::assert_ranges;
use crate::support::bytes::SplitMix64;
use crate::support::config::{ConfigDir, Tenant};
use crate::support::http::{self, Response};
use crate::support::{Library, TestServer, assert_same_bytes, browser, run, tone};

/// Seconds of every source: three encoder blocks of 9.98 s, the last one partial.
const SOURCE_SECONDS: u32 = 21;
/// The tone of every source.
const TONE_HZ: u32 = 1000;
/// Audio frames per encoder block in the host, for ranges that cross a join.
const BLOCK_FRAMES: u64 = 416;

/// A source file: container, ffmpeg encoder arguments, sample rate, channels, and the bitrate
/// its MP3 is asked for.
struct Case {
    ext: &'static str,
    codec: &'static [&'static str],
    rate: u32,
    channels: u8,
    bitrate: u32,
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { ext: "flac", codec: &["-c:a", "flac"], rate: 44_100, channels: 2, bitrate: 128 },
    Case { ext: "flac", codec: &["-c:a", "flac"], rate: 48_000, channels: 1, bitrate: 32 },
    Case { ext: "wav", codec: &["-c:a", "pcm_s16le"], rate: 48_000, channels: 2, bitrate: 320 },
    Case { ext: "wav", codec: &["-c:a", "pcm_s16le"], rate: 22_050, channels: 1, bitrate: 128 },
    Case { ext: "mp3", codec: &["-c:a", "libmp3lame", "-b:a", "128k"], rate: 44_100, channels: 2, bitrate: 32 },
    Case { ext: "mp3", codec: &["-c:a", "libmp3lame", "-b:a", "64k"], rate: 44_100, channels: 1, bitrate: 320 },
    Case { ext: "m4a", codec: &["-c:a", "aac", "-b:a", "96k"], rate: 44_100, channels: 2, bitrate: 128 },
    Case { ext: "m4b", codec: &["-c:a", "aac", "-b:a", "48k"], rate: 48_000, channels: 1, bitrate: 32 },
    Case { ext: "ogg", codec: &["-c:a", "libvorbis"], rate: 44_100, channels: 2, bitrate: 320 },
    Case { ext: "ogg", codec: &["-c:a", "libvorbis"], rate: 48_000, channels: 1, bitrate: 128 },
    Case { ext: "opus", codec: &["-c:a", "libopus", "-b:a", "64k"], rate: 48_000, channels: 2, bitrate: 32 },
    Case { ext: "opus", codec: &["-c:a", "libopus", "-b:a", "32k"], rate: 48_000, channels: 1, bitrate: 320 },
    Case { ext: "wma", codec: &["-c:a", "wmav2", "-b:a", "128k"], rate: 44_100, channels: 2, bitrate: 128 },
    Case { ext: "wma", codec: &["-c:a", "wmav2", "-b:a", "64k"], rate: 44_100, channels: 1, bitrate: 32 },
    Case { ext: "wv", codec: &["-c:a", "wavpack"], rate: 44_100, channels: 2, bitrate: 320 },
    Case { ext: "wv", codec: &["-c:a", "wavpack"], rate: 96_000, channels: 1, bitrate: 128 },
];

impl Case {
    /// Its path in the library, in a folder whose name needs percent-encoding.
    fn file(&self) -> String {
        format!("Tones Ü/{}Hz-{}ch.{}", self.rate, self.channels, self.ext)
    }

    fn url(&self) -> String {
        mp3_url(&self.file(), Some(self.bitrate))
    }

    fn what(&self) -> String {
        format!("{} at {} kbit/s", self.file(), self.bitrate)
    }

    /// Writes a sine of [`TONE_HZ`] in its format to `library`.
    fn add_to(&self, library: &Library) {
        let path = library.path(&self.file());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let sine =
            format!("sine=frequency={TONE_HZ}:sample_rate={}:duration={SOURCE_SECONDS}", self.rate);
        run(Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &sine])
            .args(["-ac", &self.channels.to_string()])
            .args(self.codec)
            .arg(&path));
    }
}

/// `/stream/mp3/<rel>?bitrate=K` with `rel` percent-encoded.
fn mp3_url(rel: &str, bitrate: Option<u32>) -> String {
    let query = bitrate.map(|k| format!("?bitrate={k}")).unwrap_or_default();
    format!("/stream/mp3/{}{query}", http::pct_path(rel))
}

fn library_of(cases: &[Case]) -> Library {
    let library = Library::empty();
    for case in cases {
        case.add_to(&library);
    }
    library
}

/// Checks every frame of an MP3 `body`: MPEG-1 Layer III, 48 kHz, `bitrate`, no padding, the
/// channel mode of `channels`, `3 × bitrate` bytes each; the first carries the `Info` tag.
/// Returns the number of audio frames.
#[track_caller]
fn assert_frames(body: &[u8], bitrate: u32, channels: u8, what: &str) -> u64 {
    let frame_len = 3 * bitrate as usize;
    assert_eq!(
        body.len() % frame_len,
        0,
        "{what}: {} bytes of {frame_len}-byte frames",
        body.len()
    );
    let index = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        .iter()
        .position(|&k| k == bitrate)
        .unwrap() as u8
        + 1;
    for (n, frame) in body.chunks(frame_len).enumerate() {
        let h = &frame[..4];
        assert_eq!(h[0], 0xFF, "{what}: frame {n} sync");
        assert_eq!(h[1], 0xFB, "{what}: frame {n}: MPEG-1 Layer III without CRC");
        assert_eq!(h[2] >> 4, index, "{what}: frame {n} bitrate");
        assert_eq!(h[2] >> 2 & 3, 1, "{what}: frame {n}: 48 kHz");
        assert_eq!(h[2] >> 1 & 1, 0, "{what}: frame {n}: no padding");
        let mode = h[3] >> 6;
        assert_eq!(mode == 3, channels == 1, "{what}: frame {n} mode {mode}");
    }
    let tag_at = if channels == 1 { 21 } else { 36 };
    assert_eq!(&body[tag_at..tag_at + 4], b"Info", "{what}: the first frame's tag");
    (body.len() / frame_len - 1) as u64
}

/// ffprobe's duration of the file at `path`, in seconds.
fn probed_seconds(path: &Path) -> f64 {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(path));
    String::from_utf8_lossy(&out).trim().parse().expect("a duration")
}

/// `mp3` decoded by ffmpeg to mono s16le at 48 kHz.
fn decode(mp3: &[u8], dir: &Path) -> Vec<i16> {
    let path = dir.join("decoded.mp3");
    std::fs::write(&path, mp3).unwrap();
    let pcm = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-ac", "1", "-f", "s16le", "pipe:1"]));
    pcm.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]])).collect()
}

#[test]
fn every_format_is_exact_mp3_with_its_duration_and_the_same_bytes_each_time() {
    let library = library_of(CASES);
    let server = TestServer::start(library);
    let scratch = tempfile::tempdir().unwrap();
    for case in CASES {
        let what = case.what();
        let get = server.get_and_head(&case.url(), &[], &what);
        assert_eq!(get.status, 200, "{what}: {}", get.summary());
        assert_eq!(get.header("content-type").as_deref(), Some("audio/mpeg"), "{what}");
        assert_eq!(get.header("accept-ranges").as_deref(), Some("bytes"), "{what}");
        assert!(get.header("last-modified").is_some(), "{what}");
        let etag = get.expect_header("etag");
        assert!(etag.ends_with(&format!("-mp3-{}\"", case.bitrate)), "{what}: {etag}");
        let disposition = get.expect_header("content-disposition");
        let stem = case.file().rsplit('/').next().unwrap().rsplit_once('.').unwrap().0.to_owned();
        assert!(disposition.contains(&format!("{stem}.mp3")), "{what}: {disposition}");
        assert_eq!(get.content_length(), get.body.len() as u64, "{what}: Content-Length");
        let frames = assert_frames(&get.body, case.bitrate, case.channels, &what);

        // ffprobe reads the length of the frames (as it does for ffmpeg's own LAME-tagged
        // files: 3.024 s for 3 s of source), 23 to 47 ms more than the source: the encoder
        // delay and the last frame's padding, which a decoder trims.
        let path = scratch.path().join("stream.mp3");
        std::fs::write(&path, &get.body).unwrap();
        let source_path = server.library().path(&case.file());
        let (mp3, source) = (probed_seconds(&path), probed_seconds(&source_path));
        let frames_seconds = frames as f64 * 0.024;
        assert!((mp3 - frames_seconds).abs() < 0.001, "{what}: {mp3} s, {frames} frames");
        assert!((0.022..0.048).contains(&(mp3 - source)), "{what}: {mp3} s for {source} s");
        // Decoded, it lasts as long as the source, to within a frame (24 ms): ffmpeg trims the
        // delay and padding the Info frame records.
        let decoded = decode(&get.body, scratch.path()).len() as f64 / 48_000.0;
        assert!((decoded - source).abs() <= 0.024, "{what}: decodes to {decoded} s, not {source}");

        let again = server.get(&case.url(), &[]);
        assert_same_bytes(&again.body, &get.body, &format!("{what}: a second GET"));
        let revalidate = server.get(&case.url(), &[("If-None-Match", &etag)]);
        assert_eq!(revalidate.status, 304, "{what}");
    }
}

#[test]
fn ranges_are_slices_of_the_one_stream_whoever_asked_first() {
    let cases = &CASES[..3];
    let server = TestServer::start(library_of(cases));
    let mut rng = SplitMix64(0x006d_7033);
    for case in cases {
        let what = case.what();
        let frame_len = 3 * u64::from(case.bitrate);
        // On a fresh server the first request is a range in the second block, crossing into
        // the third: made from blocks no earlier request made.
        let join = (1 + 2 * BLOCK_FRAMES) * frame_len;
        let (a, b) = (join - 5000, join + 7000);
        let first = server.get(&case.url(), &[("Range", &format!("bytes={a}-{b}"))]);
        let full = server.get(&case.url(), &[]);
        assert_eq!(full.status, 200, "{what}");
        let len = full.body.len() as u64;
        let b = b.min(len - 1);
        assert_ranges(&first, &full.body, &[(a, b)], "audio/mpeg", &format!("{what}: first"));
        let mut singles = vec![(0, 99), (frame_len - 10, frame_len + 10), (len - 1, len - 1)];
        for _ in 0..4 {
            let a = rng.below(len);
            singles.push((a, (a + rng.below(300_000)).min(len - 1)));
        }
        for (a, b) in singles {
            let range = server.get(&case.url(), &[("Range", &format!("bytes={a}-{b}"))]);
            assert_ranges(&range, &full.body, &[(a, b)], "audio/mpeg", &format!("{what}: {a}-{b}"));
        }
        let suffix = server.get(&case.url(), &[("Range", "bytes=-1000")]);
        assert_ranges(&suffix, &full.body, &[(len - 1000, len - 1)], "audio/mpeg", &what);
        // Several ranges, out of order: one multipart body, parts ascending.
        let (x, y) = (len / 3, 2 * len / 3);
        let header = format!("bytes={y}-{},0-199,{x}-{}", y + 999, x + 4999);
        let multi = server.get(&case.url(), &[("Range", &header)]);
        let want = [(0, 199), (x, x + 4999), (y, y + 999)];
        assert_ranges(&multi, &full.body, &want, "audio/mpeg", &format!("{what}: multipart"));
        let head = server.head(&case.url(), &[("Range", &header)]);
        assert_eq!(head.status, 206, "{what}");
    }
}

#[test]
fn a_sine_stays_a_sine_across_block_joins() {
    let case =
        Case { ext: "flac", codec: &["-c:a", "flac"], rate: 48_000, channels: 2, bitrate: 128 };
    let server = TestServer::start(library_of(std::slice::from_ref(&case)));
    let get = server.get(&case.url(), &[]);
    assert_eq!(get.status, 200, "{}", get.summary());
    let scratch = tempfile::tempdir().unwrap();
    let pcm = decode(&get.body, scratch.path());
    let source = decode(&server.library().read(&case.file()), scratch.path());
    // ffmpeg trims the encoder delay and padding the Info frame records: exactly the source.
    assert_eq!(pcm.len(), source.len(), "samples decoded");
    // Per 10 ms window (10 periods), the coding error against the source is steady, about
    // 2.5 % of the sine's RMS here; a join that clicked or slipped would spike it. The level
    // stays the sine's (libmp3lame decodes a pure tone about 5 % louder).
    let windows = tone::windows(&pcm, &source);
    let mut errors: Vec<f64> = windows.iter().map(|w| w.error).collect();
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    for (n, w) in windows.iter().enumerate() {
        assert!(
            w.error <= 1.5 * median + 10.0,
            "window {n}: error {:.1}, median {median:.1}",
            w.error
        );
        assert!(
            (w.level / w.want - 1.0).abs() < 0.1,
            "window {n}: RMS {:.1} for {:.1}",
            w.level,
            w.want
        );
        assert!((19..=21).contains(&w.crossings), "window {n}: {} zero crossings", w.crossings);
    }
}

#[test]
fn a_bitrate_layer_three_cannot_signal_is_a_400() {
    let case = &CASES[0];
    let server = TestServer::start(library_of(std::slice::from_ref(case)));
    for bitrate in ["100", "0", "", "abc", "+128", "1280"] {
        let target = format!("/stream/mp3/{}?bitrate={bitrate}", http::pct_path(&case.file()));
        let response = server.get_and_head(&target, &[], bitrate);
        assert_eq!(response.status, 400, "{bitrate:?}: {}", response.summary());
        assert!(response.expect_json_error().contains("bitrate"), "{bitrate:?}");
    }
    let default = server.get(&mp3_url(&case.file(), None), &[]);
    assert_frames(&default.body, 192, case.channels, "no bitrate: 192");
    let missing = server.get(&mp3_url("missing.flac", Some(128)), &[]);
    assert_eq!(missing.status, 404, "{}", missing.summary());
}

#[test]
fn the_tenants_max_bitrate_clamps_a_higher_request() {
    let case = &CASES[0];
    let library = library_of(std::slice::from_ref(case));
    let dir = ConfigDir::new();
    let tenant = Tenant::new("t", library.music_dir()).limit("max_bitrate", 128);
    let server = TestServer::start_config(&dir.config("t.toml", false, &[tenant]));
    let get: Response = server.get_and_head(&mp3_url(&case.file(), Some(320)), &[], "320 asked");
    assert_eq!(get.status, 200, "{}", get.summary());
    assert_frames(&get.body, 128, case.channels, "clamped to 128: 384-byte frames");
    assert!(get.expect_header("etag").ends_with("-mp3-128\""), "{}", get.summary());
    let lower = server.get(&mp3_url(&case.file(), Some(64)), &[]);
    assert_frames(&lower.body, 64, case.channels, "64 is under the limit");
}

#[test]
fn chromium_shows_the_duration_and_seeks_to_90_percent_by_a_range() {
    // Ten minutes: Chromium has buffered far less than 90 % of the transcode when it seeks.
    let case =
        Case { ext: "flac", codec: &["-c:a", "flac"], rate: 44_100, channels: 2, bitrate: 128 };
    let library = Library::empty();
    let path = library.path(&case.file());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    run(Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=600",
        ])
        .args(["-ac", "2", "-c:a", "flac"])
        .arg(&path));
    let server = TestServer::start(library);
    let url = format!("http://{}{}", server.addr(), case.url());
    let printed = browser::run_script("mp3_seek.mjs", &[&url, "600"]);
    assert!(printed.contains("PASS"), "{printed}");
}
