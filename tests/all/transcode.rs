//! Transcoded streams, `/stream/wav/<path>` (issue 4): WavPack and WMA files made here by the
//! `wavpack` and `ffmpeg` CLIs from PCM this module generates, served as seekable WAV. Exact
//! PCM and headers, ranges as slices of the full response, a browser's seeks on 10-minute
//! files, validators, errors, missing tools, the decoder cap, and what aborted and stalled
//! requests leave behind (decoder processes, zombies, file descriptors).

use std::fs;
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::http::{self, OpenStream, Response, parse_byteranges};
use crate::support::library::{Format, encoded};
use crate::support::{Library, TestServer, assert_same_bytes};

// ---------------------------------------------------------------------------------------
// Generated PCM and the files encoded from it
// ---------------------------------------------------------------------------------------

/// What a WAV header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    rate: u32,
    channels: u16,
    bits: u16,
}

impl Layout {
    fn block_align(self) -> usize {
        usize::from(self.channels) * usize::from(self.bits / 8)
    }
}

/// One row of the format table. WMA (`wmav2`) encodes at most 48 kHz, so 96 kHz rows have
/// no `.wma`.
struct FormatCase {
    name: &'static str,
    layout: Layout,
    wma: bool,
}

const fn row(name: &'static str, rate: u32, channels: u16, bits: u16, wma: bool) -> FormatCase {
    FormatCase { name, layout: Layout { rate, channels, bits }, wma }
}

/// The issue's formats: 16- and 24-bit, mono and stereo, 44.1/48/96 kHz.
const FORMATS: &[FormatCase] = &[
    row("16-bit mono 44.1 kHz", 44_100, 1, 16, true),
    row("16-bit stereo 44.1 kHz", 44_100, 2, 16, true),
    row("16-bit stereo 48 kHz", 48_000, 2, 16, true),
    row("24-bit stereo 48 kHz", 48_000, 2, 24, true),
    row("24-bit mono 96 kHz", 96_000, 1, 24, false),
    row("24-bit stereo 96 kHz", 96_000, 2, 24, false),
];

/// Length of every table file.
const TABLE_SECONDS: f64 = 3.0;
/// Channel `c` carries a sine at `TONES_HZ[c]`: a swapped channel shows in the bytes and,
/// for lossy WMA, in each channel's pitch.
const TONES_HZ: [f64; 2] = [440.0, 1000.0];
/// The 10-minute files of the issue's browser test: mono 22.05 kHz keeps them quick to make.
const LONG: Layout = Layout { rate: 22_050, channels: 1, bits: 16 };
const LONG_SECONDS: f64 = 600.0;
/// Bump when `synth` changes: encoded files are cached under this name between runs.
const MEDIA_VERSION: &str = "transcode-media-v1";

impl FormatCase {
    /// The library path of its file with extension `ext`, in a folder whose name needs
    /// percent-encoding.
    fn file(&self, ext: &str) -> String {
        format!("Table Ü/{}.{ext}", media_stem(self.layout, TABLE_SECONDS))
    }

    /// The PCM its files were encoded from.
    fn pcm(&self) -> Vec<u8> {
        synth(self.layout, TABLE_SECONDS, true)
    }
}

fn media_stem(layout: Layout, seconds: f64) -> String {
    format!("{}Hz-{}ch-{}bit-{seconds}s", layout.rate, layout.channels, layout.bits)
}

/// Interleaved little-endian PCM: each channel a half-scale sine at its own `TONES_HZ`,
/// plus (with `noise`) quiet noise of its own, so the low bytes of every sample matter.
fn synth(layout: Layout, seconds: f64, noise: bool) -> Vec<u8> {
    let frames = (f64::from(layout.rate) * seconds).round() as usize;
    let bytes = usize::from(layout.bits / 8);
    let full_scale = f64::from((1u32 << (layout.bits - 1)) - 1);
    let mut noise_sources: Vec<SplitMix64> =
        (0..layout.channels).map(|c| SplitMix64(0xD1CE + u64::from(c))).collect();
    let mut pcm = Vec::with_capacity(frames * layout.block_align());
    for n in 0..frames {
        let t = n as f64 / f64::from(layout.rate);
        for (c, rng) in noise_sources.iter_mut().enumerate() {
            let tone = 0.5 * (std::f64::consts::TAU * TONES_HZ[c % TONES_HZ.len()] * t).sin();
            let hiss = if noise { rng.unit() / 64.0 } else { 0.0 };
            let sample = ((tone + hiss) * full_scale).round() as i32;
            pcm.extend_from_slice(&sample.to_le_bytes()[..bytes]);
        }
    }
    pcm
}

/// A canonical PCM WAV: the 44-byte header, then `pcm`.
fn wav_file(layout: Layout, pcm: &[u8]) -> Vec<u8> {
    let mut wav = WavHeader::of(layout, pcm.len()).bytes().to_vec();
    wav.extend_from_slice(pcm);
    wav
}

/// The fields of a canonical 44-byte WAV header.
#[derive(Debug, PartialEq, Eq)]
struct WavHeader {
    riff_len: u32,
    format_tag: u16,
    channels: u16,
    rate: u32,
    byte_rate: u32,
    block_align: u16,
    bits: u16,
    data_len: u32,
}

impl WavHeader {
    /// The header of integer PCM in `layout` with `data_len` bytes of samples.
    fn of(layout: Layout, data_len: usize) -> WavHeader {
        let data_len = u32::try_from(data_len).expect("test PCM fits a WAV");
        WavHeader {
            riff_len: 36 + data_len,
            format_tag: 1,
            channels: layout.channels,
            rate: layout.rate,
            byte_rate: layout.rate * layout.block_align() as u32,
            block_align: layout.block_align() as u16,
            bits: layout.bits,
            data_len,
        }
    }

    fn bytes(&self) -> [u8; 44] {
        let mut out = Vec::with_capacity(44);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&self.riff_len.to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&self.format_tag.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&self.byte_rate.to_le_bytes());
        out.extend_from_slice(&self.block_align.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&self.data_len.to_le_bytes());
        out.try_into().expect("44 bytes")
    }

    /// Parses the first 44 bytes of `body`; the chunk ids must be where a canonical header
    /// has them.
    #[track_caller]
    fn parse(body: &[u8]) -> WavHeader {
        assert!(body.len() >= 44, "a WAV body of {} bytes has no header", body.len());
        let h = &body[..44];
        assert_eq!(
            (&h[0..4], &h[8..16], &h[16..20], &h[36..40]),
            (&b"RIFF"[..], &b"WAVEfmt "[..], &16u32.to_le_bytes()[..], &b"data"[..]),
            "not a canonical WAV header: {h:?}"
        );
        let u16_at = |at: usize| u16::from_le_bytes([h[at], h[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(h[at..at + 4].try_into().unwrap());
        WavHeader {
            riff_len: u32_at(4),
            format_tag: u16_at(20),
            channels: u16_at(22),
            rate: u32_at(24),
            byte_rate: u32_at(28),
            block_align: u16_at(32),
            bits: u16_at(34),
            data_len: u32_at(40),
        }
    }
}

/// Test randomness with a fixed seed, so a failing case can be replayed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `-1.0..1.0`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Runs a CLI and returns its stdout; any failure names the command and its stderr.
#[track_caller]
fn run(command: &mut Command) -> Vec<u8> {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("cannot run {command:?} (the tests need wavpack and ffmpeg): {e}")
    });
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn wavpack(wav: &Path, out: &Path) {
    run(Command::new("wavpack").args(["-q", "-y"]).arg(wav).arg("-o").arg(out));
}

fn ffmpeg_wma(wav: &Path, out: &Path, bitrate: &str) {
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .args(["-c:a", "wmav2", "-b:a", bitrate])
        .arg(out));
}

/// The folder of encoded media: every table file as `.wv` (and `.wma`), and `long.wv` and
/// `long.wma`, ten minutes each. Encoded once and kept in the target's tmp dir.
fn media_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(MEDIA_VERSION);
        if dir.join("done").exists() {
            return dir;
        }
        // Encode into a private folder and rename it into place, so a concurrent run sees
        // either nothing or a complete set.
        let staging = base.join(format!("{MEDIA_VERSION}-staging-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).expect("media staging dir");
        let mut sources = Vec::new();
        for case in FORMATS {
            sources.push((
                media_stem(case.layout, TABLE_SECONDS),
                case.layout,
                case.pcm(),
                case.wma,
            ));
        }
        sources.push(("long".into(), LONG, synth(LONG, LONG_SECONDS, false), true));
        for (stem, layout, pcm, wma) in sources {
            let wav = staging.join(format!("{stem}.wav"));
            fs::write(&wav, wav_file(layout, &pcm)).expect("write source WAV");
            wavpack(&wav, &staging.join(format!("{stem}.wv")));
            if wma {
                let bitrate = if layout.channels == 1 { "64k" } else { "128k" };
                ffmpeg_wma(&wav, &staging.join(format!("{stem}.wma")), bitrate);
            }
            fs::remove_file(&wav).expect("remove source WAV");
        }
        fs::write(staging.join("done"), b"").expect("media done marker");
        if fs::rename(&staging, &dir).is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        dir
    })
}

/// The bytes of the encoded media file `name` (see `media_dir`).
fn media(name: &str) -> Vec<u8> {
    let path = media_dir().join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("reading `{}`: {e}", path.display()))
}

/// Adds the table file of `case` with extension `ext` to `library`; returns its path.
fn add_table_file(library: &Library, case: &FormatCase, ext: &str) -> String {
    let rel = case.file(ext);
    library.add(&rel, &media(&format!("{}.{ext}", media_stem(case.layout, TABLE_SECONDS))));
    rel
}

/// A library with one real file of each table format as `.wv`, and as `.wma` where WMA can
/// hold it.
fn table_library() -> Library {
    let library = Library::empty();
    for case in FORMATS {
        add_table_file(&library, case, "wv");
        if case.wma {
            add_table_file(&library, case, "wma");
        }
    }
    library
}

/// `/stream/wav/<rel>` with `rel` percent-encoded.
fn wav_url(rel: &str) -> String {
    format!("/stream/wav/{}", http::pct_path(rel))
}

// ---------------------------------------------------------------------------------------
// Whole files, ranges, a browser's seeks
// ---------------------------------------------------------------------------------------

#[test]
fn wavpack_transcode_is_the_source_pcm_with_an_exact_header_and_length() {
    let server = TestServer::start(table_library());
    for case in FORMATS {
        let (name, target) = (case.name, wav_url(&case.file("wv")));
        let pcm = case.pcm();
        let get = server.get(&target, &[]);
        assert_eq!(get.status, 200, "{name}: {}", get.summary());
        assert_eq!(get.header("content-type").as_deref(), Some("audio/wav"), "{name}");
        assert_eq!(get.header("accept-ranges").as_deref(), Some("bytes"), "{name}");
        assert_eq!(get.content_length(), get.body.len() as u64, "{name}: Content-Length");
        assert_eq!(get.body.len(), 44 + pcm.len(), "{name}: header + every source sample");
        assert_eq!(WavHeader::parse(&get.body), WavHeader::of(case.layout, pcm.len()), "{name}");
        assert_same_bytes(&get.body[44..], &pcm, &format!("{name}: decoded samples"));

        let head = server.head(&target, &[]);
        assert_eq!(head.status, 200, "{name} HEAD: {}", head.summary());
        assert!(head.body.is_empty(), "{name}: HEAD has a body");
        for field in ["content-type", "content-length", "accept-ranges", "etag", "last-modified"] {
            assert!(get.header(field).is_some(), "{name}: no {field}: {}", get.summary());
            assert_eq!(head.header(field), get.header(field), "{name}: HEAD vs GET {field}");
        }
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

/// Asserts that `response` is the 206 of exactly `want` (inclusive ranges) of `full`.
#[track_caller]
fn assert_ranges(response: &Response, full: &[u8], want: &[(u64, u64)], what: &str) {
    let len = full.len() as u64;
    let slice = |a: u64, b: u64| &full[a as usize..=b as usize];
    assert_eq!(response.status, 206, "{what}: {}", response.summary());
    if let [(a, b)] = want {
        let expected = format!("bytes {a}-{b}/{len}");
        assert_eq!(response.header("content-range"), Some(expected), "{what}");
        assert_eq!(response.content_length(), b - a + 1, "{what}: Content-Length");
        assert_same_bytes(&response.body, slice(*a, *b), what);
        return;
    }
    let content_type = response.expect_header("content-type");
    let parts = parse_byteranges(&content_type, &response.body)
        .unwrap_or_else(|e| panic!("{what}: bad multipart body ({e}): {}", response.summary()));
    let got: Vec<(u64, u64, u64)> = parts.iter().map(|p| (p.first, p.last, p.complete)).collect();
    let wanted: Vec<(u64, u64, u64)> = want.iter().map(|&(a, b)| (a, b, len)).collect();
    assert_eq!(got, wanted, "{what}: parts");
    for part in &parts {
        assert_eq!(part.header("content-type"), Some("audio/wav"), "{what}: part type");
        let part_what = format!("{what}: part {}-{}", part.first, part.last);
        assert_same_bytes(&part.data, slice(part.first, part.last), &part_what);
    }
}

/// The seed of `random_ranges_…`; each file mixes its own index in.
const RANGE_SEED: u64 = 0x7A9E_DEC4;

#[test]
fn random_ranges_of_wavpack_and_wma_transcodes_equal_slices_of_the_full_response() {
    let server = TestServer::start(table_library());
    let mut files = Vec::new();
    for case in FORMATS {
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
            assert_ranges(&response, &full.body, &want, &what);
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
    for case in FORMATS.iter().filter(|case| case.wma) {
        let (name, target) = (case.name, wav_url(&case.file("wma")));
        let full = server.get(&target, &[]);
        assert_eq!(full.status, 200, "{name}: {}", full.summary());
        assert_eq!(full.header("content-type").as_deref(), Some("audio/wav"), "{name}");
        let len = full.body.len();
        assert_eq!(full.content_length(), len as u64, "{name}: Content-Length");
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
            assert_ranges(
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

/// Chromium's sequence (clients.md): `Range: bytes=0-`, read 256 KiB and cancel; then
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
    let wv = library.add("long.wv", &media("long.wv"));
    let wma = library.add("long.wma", &media("long.wma"));
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
    let (response, count, _) = http::get_counted(server.addr(), "/stream/wav/long.wv");
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
// Validators and errors
// ---------------------------------------------------------------------------------------

#[test]
fn transcode_has_its_own_strong_etag_and_answers_if_none_match_with_304() {
    let library = Library::empty();
    let case = &FORMATS[1];
    let files = [add_table_file(&library, case, "wv"), add_table_file(&library, case, "wma")];
    let server = TestServer::start(library);
    for rel in &files {
        let target = wav_url(rel);
        let plain =
            server.head(&format!("/stream/{}", http::pct_path(rel)), &[]).expect_header("etag");
        let tag = server.head(&target, &[]).expect_header("etag");
        assert!(tag.starts_with('"') && tag.ends_with("-wav\""), "{rel}: transcode ETag `{tag}`");
        assert_ne!(tag, plain, "{rel}: the WAV and the original share an ETag");

        let cached = server.get(&target, &[("If-None-Match", &tag)]);
        assert_eq!(cached.status, 304, "{rel}: {}", cached.summary());
        assert!(cached.body.is_empty(), "{rel}: a 304 has no body");
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
        assert_ranges(&fresh, &full.body, &[(0, 99)], &format!("{rel}: If-Range with its own tag"));
    }
}

#[test]
fn transcode_errors_are_json_with_the_right_status_before_any_audio() {
    let library = Library::empty();
    let wv = add_table_file(&library, &FORMATS[0], "wv");
    library.add("a.mp3", &encoded(Format::Mp3));
    library.add("a.flac", &encoded(Format::Flac));
    let mut rng = SplitMix64(0xBAD);
    let garbage: Vec<u8> = (0..64 * 1024).map(|_| rng.next() as u8).collect();
    library.add("x.wv", &garbage);
    library.add("x.wma", &garbage);
    let server = TestServer::start(library);

    const CASES: &[(&str, &str, u16)] = &[
        ("an mp3 is not transcoded", "/stream/wav/a.mp3", 400),
        ("a flac is not transcoded", "/stream/wav/a.flac", 400),
        ("missing .wv", "/stream/wav/missing.wv", 404),
        ("missing .wma", "/stream/wav/Table%20%C3%9C/missing.wma", 404),
        ("random bytes named .wv", "/stream/wav/x.wv", 422),
        ("random bytes named .wma", "/stream/wav/x.wma", 422),
        ("climbing out", "/stream/wav/../music-sibling/secret.wv", 403),
        ("climbing, encoded", "/stream/wav/%2e%2e/music-sibling/secret.wv", 403),
    ];
    for (name, target, status) in CASES {
        for range in [None, Some("bytes=0-")] {
            let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
            let response = server.get(target, &headers);
            assert_eq!(response.status, *status, "{name} ({range:?}): {}", response.summary());
            let message = response.expect_json_error();
            assert!(!message.is_empty(), "{name}: empty error message");
            assert!(
                !message.contains(server.library().root().to_str().unwrap()),
                "{name}: host path in `{message}`"
            );
            let head = server.head(target, &headers);
            assert_eq!(head.status, *status, "{name}: HEAD {}", head.summary());
        }
    }
    server.assert_alive();

    // The original bytes are still there under `/stream/`.
    let original = server.get(&format!("/stream/{}", http::pct_path(&wv)), &[]);
    assert_eq!(original.status, 200, "{}", original.summary());
    assert_eq!(original.header("content-type").as_deref(), Some("audio/x-wavpack"));
    assert_same_bytes(&original.body, &server.library().read(&wv), "/stream/ of a .wv");
}

// ---------------------------------------------------------------------------------------
// Missing tools, the decoder cap, and the processes a transcode leaves behind
// ---------------------------------------------------------------------------------------

/// A temporary directory holding symlinks to the named tools only: a `PATH` on which
/// every other program is missing.
fn tool_dir(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("tapedeck-path-").tempdir().expect("temp dir");
    for tool in tools {
        let found = run(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
        let found = String::from_utf8(found).expect("path").trim().to_owned();
        std::os::unix::fs::symlink(found, dir.path().join(tool)).expect("tool symlink");
    }
    dir
}

/// A library with a short `.wv` and `.wma` and an mp3, named `a.*`.
fn small_library() -> Library {
    let library = Library::empty();
    let case = &FORMATS[1];
    library.add("a.wv", &media(&format!("{}.wv", media_stem(case.layout, TABLE_SECONDS))));
    library.add("a.wma", &media(&format!("{}.wma", media_stem(case.layout, TABLE_SECONDS))));
    library.add("a.mp3", &encoded(Format::Mp3));
    library
}

#[test]
fn missing_decoders_give_503_naming_the_tool_and_plain_files_still_stream() {
    let empty = tool_dir(&[]);
    let server =
        TestServer::start_with(small_library(), &[], &[("PATH", empty.path().as_os_str())]);
    const CASES: &[(&str, &[&str])] =
        &[("/stream/wav/a.wv", &["wvunpack"]), ("/stream/wav/a.wma", &["ffprobe", "ffmpeg"])];
    for (target, tools) in CASES {
        for method in ["GET", "HEAD"] {
            let response = server.request(method, target, &[]);
            assert_eq!(response.status, 503, "{method} {target}: {}", response.summary());
        }
        let message = server.get(target, &[("Range", "bytes=100-")]).expect_json_error();
        assert!(
            tools.iter().any(|tool| message.contains(tool)),
            "{target}: `{message}` names none of {tools:?}"
        );
    }
    for rel in ["a.mp3", "a.wv"] {
        let response = server.get(&format!("/stream/{rel}"), &[]);
        assert_eq!(response.status, 200, "/stream/{rel} without decoders: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(rel), rel);
    }

    // ffprobe alone: the format is known, the decoder still missing, and that must be a
    // 503 naming ffmpeg, not a 200 whose audio never comes.
    let probe_only = tool_dir(&["ffprobe"]);
    let server =
        TestServer::start_with(small_library(), &[], &[("PATH", probe_only.path().as_os_str())]);
    let response = server.get("/stream/wav/a.wma", &[]);
    assert_eq!(response.status, 503, "WMA without ffmpeg: {}", response.summary());
    let message = response.expect_json_error();
    assert!(message.contains("ffmpeg"), "`{message}` does not name ffmpeg");
}

#[test]
fn decoder_cap_answers_503_with_retry_after_until_a_decoder_is_freed() {
    let library = small_library();
    library.add("long.wv", &media("long.wv"));
    let server = TestServer::start_with(library, &["--max-decoders", "1"], &[]);
    let mut holder = OpenStream::open(server.addr(), "/stream/wav/long.wv", &[]);
    assert_eq!(holder.head.status, 200, "first transcode: {}", holder.head.summary());
    let _ = holder.read(64 * 1024);

    for target in ["/stream/wav/a.wv", "/stream/wav/a.wma"] {
        let busy = server.get(target, &[]);
        assert_eq!(busy.status, 503, "{target} past the cap: {}", busy.summary());
        let retry = busy.expect_header("retry-after");
        assert!(
            retry.parse::<u32>().is_ok(),
            "{target}: Retry-After `{retry}` is not delay-seconds"
        );
        busy.expect_json_error();
    }
    let plain = server.get("/stream/a.mp3", &[]);
    assert_eq!(plain.status, 200, "plain files are not capped: {}", plain.summary());

    drop(holder);
    let expected = wav_file(FORMATS[1].layout, &FORMATS[1].pcm());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get("/stream/wav/a.wv", &[("Range", "bytes=0-4095")]);
        if response.status == 206 {
            assert_ranges(&response, &expected, &[(0, 4095)], "after the holder left");
            break;
        }
        assert_eq!(
            response.status,
            503,
            "while waiting for the freed decoder: {}",
            response.summary()
        );
        assert!(Instant::now() < deadline, "the decoder of a dropped stream was not freed in 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn aborted_transcodes_leave_no_decoder_process_zombie_or_extra_fd() {
    let library = small_library();
    library.add("long.wv", &media("long.wv"));
    library.add("long.wma", &media("long.wma"));
    let server = TestServer::start_with(library, &[], &[]);
    // Warm up whatever the server opens once (the child-process signal pipe, the runtime's
    // threads) with finished transcodes; they too must leave nothing behind.
    for target in ["/stream/wav/a.wv", "/stream/wav/a.wma"] {
        assert_eq!(server.get(target, &[]).status, 200, "{target}");
    }
    server.assert_settles(usize::MAX, Duration::from_secs(5), "after two finished transcodes");
    let idle_fds = server.fds().len();

    let mut rng = SplitMix64(0xAB0);
    let (mut busy, deadline) = (0, Instant::now() + Duration::from_secs(40));
    for i in 0..100 {
        let target = if i % 5 == 4 { "/stream/wav/long.wma" } else { "/stream/wav/long.wv" };
        // Half open at the start, half at a random 32 KiB-aligned offset, as Chromium does.
        let range = if i % 2 == 0 {
            "bytes=0-".to_owned()
        } else {
            format!("bytes={}-", rng.below(800) * 32 * 1024)
        };
        loop {
            let mut stream = OpenStream::open(server.addr(), target, &[("Range", &range)]);
            if stream.head.status == 503 && Instant::now() < deadline {
                // Decoders of the previous aborts may take a moment to go.
                busy += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            assert_eq!(
                stream.head.status,
                206,
                "abort {i}, {target} {range}: {}",
                stream.head.summary()
            );
            let _ = stream.read(4096);
            break; // dropped: the abort
        }
    }
    eprintln!("100 aborted transcodes: {busy} busy answers on the way");
    server.assert_settles(idle_fds + 2, Duration::from_secs(5), "after 100 aborted transcodes");
    // One at a time, too: each abort must be cleaned up by itself, not by a later
    // request's decoder happening to exit.
    for (i, target) in
        ["/stream/wav/long.wv", "/stream/wav/long.wma"].iter().cycle().take(10).enumerate()
    {
        let _ = OpenStream::open(server.addr(), target, &[("Range", "bytes=0-")]).read(4096);
        let what = format!("2 s after lone abort {i} ({target})");
        server.assert_settles(idle_fds + 2, Duration::from_secs(2), &what);
    }
    assert_eq!(server.get("/health", &[]).status, 200, "the server stopped serving");
}

/// How many fresh servers `first_aborted_transcode_…` tries: whether a decoder is reaped can
/// depend on which thread sees its exit first, so one try can pass by luck.
const FRESH_SERVERS: usize = 5;

#[test]
fn first_aborted_transcode_of_a_fresh_server_leaves_no_zombie_while_it_idles() {
    for round in 0..FRESH_SERVERS {
        let library = Library::empty();
        library.add("long.wv", &media("long.wv"));
        let server = TestServer::start_with(library, &[], &[]);
        let mut stream = OpenStream::open(server.addr(), "/stream/wav/long.wv", &[]);
        assert_eq!(stream.head.status, 200, "{}", stream.head.summary());
        let _ = stream.read(4096);
        drop(stream);
        let what = format!("fresh server {round}, 2 s after its first transcode was aborted");
        server.assert_settles(usize::MAX, Duration::from_secs(2), &what);
    }
}

#[test]
fn stalled_transcode_is_ended_and_its_decoder_killed_at_the_request_timeout() {
    let library = small_library();
    library.add("long.wv", &media("long.wv"));
    let server = TestServer::start_with(library, &["--request-timeout", "2"], &[]);
    let mut stalled = OpenStream::open(server.addr(), "/stream/wav/long.wv", &[]);
    assert_eq!(stalled.head.status, 200, "{}", stalled.head.summary());
    let _ = stalled.read(4096);
    assert!(!server.children().is_empty(), "no decoder is running for an open transcode");
    // The client keeps the socket and reads nothing more: at the deadline the server must
    // end the response and its decoder, without the client's help.
    let idle = server.settles(usize::MAX, Duration::from_secs(5));
    // What the kernel buffered is still readable; then the connection must end, short.
    stalled.socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sent = stalled.taken + stalled.pending.len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stalled.socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the stalled connection open past its deadline: {e}"),
        }
    }
    assert!(sent < stalled.head.content_length(), "the stalled response was not cut short");
    if let Err(left) = idle {
        panic!("from a stalled transcode's 2 s deadline: {left}");
    }
}
