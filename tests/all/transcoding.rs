//! Transcoded streams, `/stream/wav/<path>`: WavPack and WMA files served as seekable WAV.
//! Exact PCM and headers, ranges as slices of the full response, a browser's seeks in
//! 10-minute files, and validators of their own.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::byteranges::assert_ranges;
use crate::support::bytes::SplitMix64;
use crate::support::connection::{OpenStream, get_counted};
use crate::support::http::{self, Response};
use crate::support::media::{
    LONG, LONG_SECONDS, TABLE_SECONDS, TRANSCODE_FORMATS, transcode_media,
};
use crate::support::wav::{Layout, TONES_HZ, WavHeader, wav_file};
use crate::support::{Library, TestServer, assert_same_bytes, run};

/// `/stream/wav/<rel>` with `rel` percent-encoded.
fn wav_url(rel: &str) -> String {
    format!("/stream/wav/{}", http::pct_path(rel))
}

/// A library with one real file of each table format as `.wv`, and as `.wma` where WMA can
/// hold it.
fn table_library() -> Library {
    let library = Library::empty();
    for case in TRANSCODE_FORMATS {
        case.add_to(&library, "wv");
        if case.wma {
            case.add_to(&library, "wma");
        }
    }
    library
}

#[test]
fn wavpack_transcode_is_the_source_pcm_with_an_exact_header_and_length() {
    let server = TestServer::start(table_library());
    for case in TRANSCODE_FORMATS {
        let (name, target) = (case.name, wav_url(&case.file("wv")));
        let pcm = case.pcm();
        let get = server.get_and_head(&target, &[], name);
        assert_eq!(get.status, 200, "{name}: {}", get.summary());
        assert_eq!(get.header("content-type").as_deref(), Some("audio/wav"), "{name}");
        assert_eq!(get.header("accept-ranges").as_deref(), Some("bytes"), "{name}");
        for field in ["etag", "last-modified"] {
            assert!(get.header(field).is_some(), "{name}: no {field}: {}", get.summary());
        }
        let length = 44 + pcm.len() as u64;
        assert_eq!(get.content_length(), length, "{name}: the header and every source sample");
        assert_eq!(WavHeader::parse(&get.body), WavHeader::of(case.layout, pcm.len()), "{name}");
        assert_same_bytes(&get.body[44..], &pcm, &format!("{name}: decoded samples"));
    }
}

/// Range headers for a representation of `len` bytes whose frames are `block_align` bytes,
/// each with the inclusive byte ranges it must produce: fixed cases at the 44-byte header's
/// edge, then seeded random ones of every form.
fn range_cases(len: u64, block_align: u64, rng: &mut SplitMix64) -> Vec<(String, Vec<(u64, u64)>)> {
    let last = len - 1;
    let single = |a: u64, b: u64| (format!("bytes={a}-{b}"), vec![(a, b.min(last))]);
    let mut cases = vec![
        single(0, 43),  // the header alone
        single(43, 44), // its last byte and the first sample byte
        (format!("bytes={last}-"), vec![(last, last)]),
        ("bytes=-1".to_owned(), vec![(last, last)]),
    ];
    for _ in 0..2 {
        cases.push(single(rng.below(44), 44 + rng.below(8192))); // straddles the header
    }
    for _ in 0..3 {
        let a = rng.below(len);
        cases.push(single(a, a + rng.below(len - a)));
    }
    // Starting one byte into a frame.
    let frame = rng.below((len - 44) / block_align - 1);
    cases.push(single(44 + frame * block_align + 1, 44 + frame * block_align + 5000));
    for _ in 0..2 {
        let n = rng.below(len);
        cases.push((format!("bytes={n}-"), vec![(n, last)]));
    }
    let k = 1 + rng.below(len.min(200_000));
    cases.push((format!("bytes=-{k}"), vec![(len - k, last)]));
    // Multipart: across the header, somewhere in the middle, and a suffix; the gaps are
    // far wider than the server's coalescing distance.
    let (a1, b1) = (rng.below(44), 44 + rng.below(1000));
    let a2 = len / 3 + rng.below(len / 6);
    let b2 = a2 + rng.below(4096);
    cases.push((
        format!("bytes={a1}-{b1},{a2}-{b2},-500"),
        vec![(a1, b1), (a2, b2), (len - 500, last)],
    ));
    cases
}

/// Asserts that `response` is the 206 of exactly `want` of the WAV `full`.
#[track_caller]
fn assert_wav_ranges(response: &Response, full: &[u8], want: &[(u64, u64)], what: &str) {
    assert_ranges(response, full, want, "audio/wav", what);
}

/// The seed of `random_ranges_…`; each file mixes its own index in.
const RANGE_SEED: u64 = 0x7A9E_DEC4;

#[test]
fn random_ranges_of_wavpack_and_wma_transcodes_equal_slices_of_the_full_response() {
    let server = TestServer::start(table_library());
    let mut files = Vec::new();
    for case in TRANSCODE_FORMATS {
        files.push((case.file("wv"), case.layout.block_align()));
        if case.wma {
            // WMA is decoded to 16-bit.
            files.push((case.file("wma"), usize::from(case.layout.channels) * 2));
        }
    }
    for (index, (rel, block_align)) in files.iter().enumerate() {
        let target = wav_url(rel);
        let full = server.get(&target, &[]);
        assert_eq!(full.status, 200, "{rel}: {}", full.summary());
        let mut rng = SplitMix64(RANGE_SEED + index as u64);
        for (range, want) in range_cases(full.body.len() as u64, *block_align as u64, &mut rng) {
            let what = format!("{rel} `Range: {range}` (seed {RANGE_SEED:#x}+{index})");
            let response = server.get(&target, &[("Range", &range)]);
            assert_wav_ranges(&response, &full.body, &want, &what);
        }
    }
}

/// Upward crossings of ±10 % of full scale per second in channel `channel` of 16-bit
/// `pcm`: the pitch of a sine, unmoved by quiet noise or codec ripple.
fn pitch_hz(pcm: &[u8], channels: usize, channel: usize, rate: u32) -> f64 {
    let threshold = i32::from(i16::MAX) / 10;
    let samples: Vec<i32> = pcm
        .chunks_exact(2 * channels)
        .map(|frame| i32::from(i16::from_le_bytes([frame[2 * channel], frame[2 * channel + 1]])))
        .collect();
    let (mut high, mut crossings) = (false, 0u32);
    for &s in &samples {
        if !high && s > threshold {
            high = true;
            crossings += 1;
        } else if high && s < -threshold {
            high = false;
        }
    }
    f64::from(crossings) * f64::from(rate) / samples.len() as f64
}

#[test]
fn wma_transcode_has_an_exact_length_a_plausible_duration_and_seekable_tails() {
    let server = TestServer::start(table_library());
    for case in TRANSCODE_FORMATS.iter().filter(|case| case.wma) {
        let (name, target) = (case.name, wav_url(&case.file("wma")));
        // The length is announced before any decoding (HEAD decodes nothing); the GET must
        // deliver exactly that.
        let full = server.get_and_head(&target, &[], name);
        assert_eq!(full.status, 200, "{name}: {}", full.summary());
        assert_eq!(full.header("content-type").as_deref(), Some("audio/wav"), "{name}");
        let len = full.body.len();
        // WMA decodes to 16-bit integers at the file's own rate and channel count.
        let layout = Layout { bits: 16, ..case.layout };
        assert_eq!(WavHeader::parse(&full.body), WavHeader::of(layout, len - 44), "{name}");
        let pcm = &full.body[44..];
        assert_eq!(pcm.len() % layout.block_align(), 0, "{name}: whole frames");
        let seconds = (pcm.len() / layout.block_align()) as f64 / f64::from(layout.rate);
        assert!(
            (seconds - TABLE_SECONDS).abs() < 0.1,
            "{name}: {seconds} s of audio from a {TABLE_SECONDS} s source"
        );
        // The source's length of audio: what the container adds past it is silence.
        let source_len = (TABLE_SECONDS * f64::from(layout.rate)) as usize * layout.block_align();
        let signal = &pcm[..pcm.len().min(source_len)];
        for (channel, &tone) in TONES_HZ.iter().enumerate().take(usize::from(layout.channels)) {
            let pitch = pitch_hz(signal, layout.channels.into(), channel, layout.rate);
            assert!(
                (pitch / tone - 1.0).abs() < 0.03,
                "{name}: channel {channel} has a {pitch:.0} Hz tone, its source {tone} Hz"
            );
        }
        for percent in [50, 90] {
            let start = len * percent / 100;
            let range = format!("bytes={start}-");
            let response = server.get(&target, &[("Range", &range)]);
            assert_wav_ranges(
                &response,
                &full.body,
                &[(start as u64, len as u64 - 1)],
                &format!("{name} {range}"),
            );
        }
    }
}

/// What a browser-style sequence must see in one 10-minute transcode.
struct Seekable<'a> {
    target: &'a str,
    /// The whole WAV the server must send, from a direct decode of the file.
    expected: &'a [u8],
}

/// Chromium's sequence: `Range: bytes=0-`, read 256 KiB and cancel; then
/// open-ended ranges at 50 % and 90 %, aligned down to 32 KiB. Returns the time to the
/// first byte of the 90 % seek.
#[track_caller]
fn browser_sequence(addr: SocketAddr, file: &Seekable<'_>) -> Duration {
    const READ: usize = 256 * 1024;
    const ALIGN: usize = 32 * 1024;
    let (target, expected) = (file.target, file.expected);
    let len = expected.len();
    let mut opening = OpenStream::open(addr, target, &[("Range", "bytes=0-")]);
    let head = &opening.head;
    assert_eq!(head.status, 206, "{target} bytes=0-: {}", head.summary());
    assert_eq!(
        head.header("content-range"),
        Some(format!("bytes 0-{}/{len}", len - 1)),
        "{target}"
    );
    assert_eq!(head.content_length(), len as u64, "{target} bytes=0-: Content-Length");
    assert_same_bytes(&opening.read(READ), &expected[..READ], &format!("{target} bytes=0-"));
    drop(opening);

    let mut ttfb = Duration::ZERO;
    for percent in [50, 90] {
        let start = len * percent / 100 / ALIGN * ALIGN;
        let range = format!("bytes={start}-");
        let what = format!("{target} {range} ({percent} %)");
        let asked = Instant::now();
        let mut seek =
            OpenStream::open(addr, target, &[("Range", &range), ("Connection", "close")]);
        let first = seek.read(1);
        ttfb = asked.elapsed();
        let head = &seek.head;
        assert_eq!(head.status, 206, "{what}: {}", head.summary());
        let content_range = format!("bytes {start}-{}/{len}", len - 1);
        assert_eq!(head.header("content-range"), Some(content_range), "{what}");
        assert_eq!(head.content_length(), (len - start) as u64, "{what}: Content-Length");
        let mut got = first;
        got.extend(seek.read(READ - 1));
        assert_same_bytes(&got, &expected[start..start + READ], &what);
        if percent == 90 {
            // Read this one to its end: the last bytes of the file, and not one more.
            got.extend(seek.rest());
            assert_same_bytes(&got, &expected[start..], &format!("{what} to the end"));
        }
    }
    ttfb
}

#[test]
fn browser_seeks_to_half_and_ninety_percent_of_ten_minute_wavpack_and_wma() {
    let library = Library::empty();
    let wv = library.add("long.wv", &transcode_media("long.wv"));
    let wma = library.add("long.wma", &transcode_media("long.wma"));
    let server = TestServer::start(library);

    // The WavPack decode made once, by wvunpack itself.
    let started = Instant::now();
    let pcm = run(Command::new("wvunpack").args(["-q", "-r", "-y"]).arg(&wv).args(["-o", "-"]));
    let wvunpack_alone = started.elapsed();
    assert_eq!(pcm.len(), (LONG_SECONDS * f64::from(LONG.rate)) as usize * LONG.block_align());
    let expected = wav_file(LONG, &pcm);
    let ttfb = browser_sequence(
        server.addr(),
        &Seekable { target: "/stream/wav/long.wv", expected: &expected },
    );
    let started = Instant::now();
    let (response, count, _) = get_counted(server.addr(), "/stream/wav/long.wv");
    let served_whole = started.elapsed();
    assert_eq!((response.status, count), (200, expected.len() as u64), "whole long.wv");
    assert_eq!(response.content_length(), count, "whole long.wv: Content-Length");
    eprintln!(
        "10-minute .wv: 90 % seek first byte after {ttfb:?}; whole transcode {served_whole:?}, \
         wvunpack alone {wvunpack_alone:?} ({} MB of PCM)",
        pcm.len() / 1_000_000
    );

    // WMA: the same decoder, run directly, gives the bytes; the length is the server's
    // (from the container's duration), padded with silence where the decoder ends early.
    let length = server.head("/stream/wav/long.wma", &[]).content_length() as usize;
    let seconds = (length - 44) as f64 / f64::from(LONG.rate) / LONG.block_align() as f64;
    assert!(
        (seconds - LONG_SECONDS).abs() < 0.5,
        "long.wma lasts {seconds} s, its source {LONG_SECONDS} s"
    );
    let mut pcm = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&wma)
        .args(["-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", "22050", "-"]));
    pcm.resize(length - 44, 0);
    let expected = wav_file(LONG, &pcm);
    let ttfb = browser_sequence(
        server.addr(),
        &Seekable { target: "/stream/wav/long.wma", expected: &expected },
    );
    eprintln!("10-minute .wma: 90 % seek first byte after {ttfb:?}");
}

// ---------------------------------------------------------------------------------------
// Validators
// ---------------------------------------------------------------------------------------

#[test]
fn transcode_has_its_own_strong_etag_and_answers_if_none_match_with_304() {
    let library = Library::empty();
    let case = &TRANSCODE_FORMATS[1];
    let files = [case.add_to(&library, "wv"), case.add_to(&library, "wma")];
    let server = TestServer::start(library);
    for rel in &files {
        let target = wav_url(rel);
        let plain =
            server.head(&format!("/stream/{}", http::pct_path(rel)), &[]).expect_header("etag");
        let tag = server.head(&target, &[]).expect_header("etag");
        assert!(tag.starts_with('"') && tag.ends_with("-wav\""), "{rel}: transcode ETag `{tag}`");
        assert_ne!(tag, plain, "{rel}: the WAV and the original share an ETag");

        let cached = server.get(&target, &[("If-None-Match", &tag)]);
        // `get` refuses any byte after the head of a 304.
        assert_eq!(cached.status, 304, "{rel}: {}", cached.summary());
        assert_eq!(cached.header("etag"), Some(tag.clone()), "{rel}: 304 ETag");

        let full = server.get(&target, &[("If-None-Match", &plain)]);
        assert_eq!(
            full.status,
            200,
            "{rel}: the original's tag matched the WAV: {}",
            full.summary()
        );
        // A range validated by the original's tag must not be spliced into the WAV.
        let stale = server.get(&target, &[("Range", "bytes=0-99"), ("If-Range", &plain)]);
        assert_eq!(
            stale.status,
            200,
            "{rel}: If-Range with the original's tag: {}",
            stale.summary()
        );
        assert_same_bytes(&stale.body, &full.body, &format!("{rel}: If-Range fallback"));
        let fresh = server.get(&target, &[("Range", "bytes=0-99"), ("If-Range", &tag)]);
        assert_wav_ranges(
            &fresh,
            &full.body,
            &[(0, 99)],
            &format!("{rel}: If-Range with its own tag"),
        );
    }
}
