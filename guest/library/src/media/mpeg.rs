//! MPEG audio (MP3): frame headers, the Xing/Info and VBRI headers an encoder writes in its
//! first frame, LAME's gapless info, and for files that have neither, a frame count: by
//! scanning every frame of a variable-bitrate stream, by dividing for a constant one.

use super::source::{Bytes, ReadAt, Source};
use super::{Codec, Malformed, Properties, ape, id3v2, seconds};

/// Bytes searched for the first frame after the tags: encoders and taggers leave junk
/// there, rarely much.
const SYNC_SEARCH: u64 = 64 * 1024;
/// Times a scan looks for the next frame past junk: a stream does not hold much of it, and
/// a file of junk between short frames must not cost a search window per frame.
const MAX_RESYNCS: u32 = 64;
/// Streams up to this size are always scanned: it costs less than sampling.
const SCAN_ALWAYS: u64 = 1024 * 1024;
/// Points of a longer stream without an encoder header where a frame is sampled: if all
/// have the first frame's bitrate, the stream is taken as constant-bitrate and its frames
/// are counted by division. A scan of a long CBR file (an audiobook) would read all of it,
/// and a page of 500 tracks must parse within the request's CPU time.
const CBR_SAMPLES: u64 = 16;
/// Bytes read at each sampled point: a few frames at any bitrate.
const SAMPLE_WINDOW: usize = 4096;

/// The MPEG version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
    V25,
}

/// A frame header (ISO 11172-3 §2.4.1.3, with MPEG-2 and the unofficial 2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    version: Version,
    /// 1, 2 or 3.
    layer: u8,
    /// Bits per second.
    bitrate: u32,
    sample_rate: u32,
    padding: bool,
    mono: bool,
}

#[rustfmt::skip]
const BITRATES_KBPS: [[u16; 15]; 5] = [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // V1 L1
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],    // V1 L2
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],     // V1 L3
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],    // V2 L1
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],         // V2 L2, L3
];

impl FrameHeader {
    /// The header in `bytes`, if they hold a valid one. Free-format bitrates are refused:
    /// their frame length is not in the header.
    pub fn parse(bytes: [u8; 4]) -> Option<Self> {
        if bytes[0] != 0xff || bytes[1] & 0xe0 != 0xe0 {
            return None;
        }
        let version = match (bytes[1] >> 3) & 3 {
            0 => Version::V25,
            2 => Version::V2,
            3 => Version::V1,
            _ => return None,
        };
        let layer = match (bytes[1] >> 1) & 3 {
            1 => 3,
            2 => 2,
            3 => 1,
            _ => return None,
        };
        let bitrate_index = usize::from(bytes[2] >> 4);
        let rate_index = usize::from((bytes[2] >> 2) & 3);
        // Emphasis 2 is reserved: a frame claiming it is most likely noise.
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 || bytes[3] & 3 == 2 {
            return None;
        }
        let table = match (version, layer) {
            (Version::V1, layer) => usize::from(layer - 1),
            (_, 1) => 3,
            _ => 4,
        };
        let bitrate = u32::from(BITRATES_KBPS[table][bitrate_index]) * 1000;
        let base = [44_100, 48_000, 32_000][rate_index];
        let sample_rate = match version {
            Version::V1 => base,
            Version::V2 => base / 2,
            Version::V25 => base / 4,
        };
        let padding = bytes[2] & 2 != 0;
        let mono = bytes[3] >> 6 == 3;
        Some(Self { version, layer, bitrate, sample_rate, padding, mono })
    }

    /// Samples per channel in a frame.
    pub fn samples(&self) -> u32 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, Version::V2 | Version::V25) => 576,
            _ => 1152,
        }
    }

    /// The length of the frame in bytes, header included.
    pub fn frame_len(&self) -> u32 {
        let padding = u32::from(self.padding);
        if self.layer == 1 {
            return (12 * self.bitrate / self.sample_rate + padding) * 4;
        }
        self.samples() / 8 * self.bitrate / self.sample_rate + padding
    }

    /// Whether `other` can be the next frame of the same stream.
    fn continues(&self, other: &Self) -> bool {
        self.version == other.version
            && self.layer == other.layer
            && self.sample_rate == other.sample_rate
    }

    /// Where a Xing/Info header starts in the frame: after the Layer III side info.
    fn xing_offset(&self) -> usize {
        4 + match (self.version, self.mono) {
            (Version::V1, false) => 32,
            (Version::V1, true) | (_, false) => 17,
            (_, true) => 9,
        }
    }
}

/// What the encoder's header in the first frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncoderInfo {
    /// Audio frames, the header's own frame not counted.
    pub frames: Option<u32>,
    /// Samples of encoder delay at the start (LAME gapless info).
    pub delay: u32,
    /// Samples of padding at the end.
    pub padding: u32,
}

/// The Xing/Info (with LAME's extension) or VBRI header in `frame`, the first frame's bytes.
pub fn encoder_info(header: &FrameHeader, frame: &[u8]) -> Option<EncoderInfo> {
    let at = header.xing_offset();
    if let Some(b"Xing" | b"Info") = frame.get(at..at + 4) {
        let flags = frame.u32_be(at + 4)?;
        let mut next = at + 8;
        let mut info = EncoderInfo::default();
        if flags & 1 != 0 {
            info.frames = Some(frame.u32_be(next)?);
            next += 4;
        }
        // Bytes (2), table of contents (4), quality (8).
        next += 4 * usize::from(flags & 2 != 0) + 100 * usize::from(flags & 4 != 0);
        next += 4 * usize::from(flags & 8 != 0);
        // LAME's tag: a 9-byte encoder version, then the delays 21 bytes in, 12 bits each.
        if let Some(b"LAME" | b"Lavf" | b"Lavc") = frame.get(next..next + 4) {
            let delays = frame.get(next + 21..next + 24)?;
            let packed =
                u32::from(delays[0]) << 16 | u32::from(delays[1]) << 8 | u32::from(delays[2]);
            info.delay = packed >> 12;
            info.padding = packed & 0xfff;
        }
        return Some(info);
    }
    // Fraunhofer's VBRI header, always 32 bytes after the frame header.
    if frame.get(36..40) == Some(b"VBRI") {
        return Some(EncoderInfo { frames: Some(frame.u32_be(50)?), ..EncoderInfo::default() });
    }
    None
}

/// The first frame at or after `start` that is followed by another frame of the same
/// stream (or by the end of the audio), so that a stray `FF Ex` byte pair is not taken
/// for one.
fn first_frame<R: ReadAt>(
    source: &mut Source<R>,
    start: u64,
    end: u64,
) -> Option<(u64, FrameHeader)> {
    let window = source.up_to(start, SYNC_SEARCH.min(end.saturating_sub(start)) as usize);
    sync_in(source, &window, start, end)
}

/// The first frame in `window`, the bytes of the file from `base`, that is followed by
/// another of the same stream (read from `window` if it holds it).
fn sync_in<R: ReadAt>(
    source: &mut Source<R>,
    window: &[u8],
    base: u64,
    end: u64,
) -> Option<(u64, FrameHeader)> {
    for (i, pair) in window.windows(4).enumerate() {
        if pair[0] != 0xff || pair[1] & 0xe0 != 0xe0 {
            continue;
        }
        let Some(header) = FrameHeader::parse([pair[0], pair[1], pair[2], pair[3]]) else {
            continue;
        };
        let offset = base + i as u64;
        let next = offset + u64::from(header.frame_len());
        let inside = window.get(i + header.frame_len() as usize..).and_then(|rest| rest.get(..4));
        let following = match inside {
            Some(bytes) => <[u8; 4]>::try_from(bytes).ok().and_then(FrameHeader::parse),
            None => next_frame(source, next),
        };
        if next == end || following.is_some_and(|h| header.continues(&h)) {
            return Some((offset, header));
        }
    }
    None
}

/// Whether frames sampled across `start..end` all have the bitrate of `first`.
fn constant_bitrate<R: ReadAt>(
    source: &mut Source<R>,
    first: FrameHeader,
    start: u64,
    end: u64,
) -> bool {
    let span = end - start;
    (1..CBR_SAMPLES).all(|i| {
        let at = start + span * i / CBR_SAMPLES;
        let window = source.peek(at, SAMPLE_WINDOW);
        sync_in(source, &window, at, end)
            .is_some_and(|(_, h)| first.continues(&h) && h.bitrate == first.bitrate)
    })
}

/// The frames from `start` to `end` of a stream without an encoder's frame count.
fn frames<R: ReadAt>(source: &mut Source<R>, first: FrameHeader, start: u64, end: u64) -> u64 {
    let span = end.saturating_sub(start);
    if span > SCAN_ALWAYS && constant_bitrate(source, first, start, end) {
        // Padding makes frames a byte longer now and then; on average a frame is exactly
        // samples / 8 × bitrate / rate bytes.
        let mean = f64::from(first.samples()) / 8.0 * f64::from(first.bitrate)
            / f64::from(first.sample_rate);
        return (span as f64 / mean).round() as u64;
    }
    count_frames(source, first, start, end)
}

fn next_frame<R: ReadAt>(source: &mut Source<R>, offset: u64) -> Option<FrameHeader> {
    FrameHeader::parse(source.array::<4>(offset).ok()?)
}

/// Counts the frames from `offset` to `end`, resynchronising past junk between them, at most
/// [`MAX_RESYNCS`] times.
fn count_frames<R: ReadAt>(
    source: &mut Source<R>,
    first: FrameHeader,
    mut offset: u64,
    end: u64,
) -> u64 {
    let mut frames = 0;
    let mut resyncs = 0;
    while offset < end {
        match next_frame(source, offset).filter(|header| first.continues(header)) {
            Some(header) if offset + u64::from(header.frame_len()) <= end => {
                frames += 1;
                offset += u64::from(header.frame_len());
            }
            // A last frame cut short still decodes in part; players count it.
            Some(_) => return frames + 1,
            None if resyncs < MAX_RESYNCS => {
                resyncs += 1;
                match first_frame(source, offset + 1, end) {
                    Some((next, _)) => offset = next,
                    None => break,
                }
            }
            None => break,
        }
    }
    frames
}

/// The properties of an MPEG audio file.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let start = id3v2::leading_tags_len(source);
    let end = ape::audio_end(source);
    let (first, header) = first_frame(source, start, end).ok_or(Malformed)?;
    let frame = source.up_to(first, header.frame_len() as usize);
    let samples_per_frame = u64::from(header.samples());
    let samples = match encoder_info(&header, &frame) {
        Some(EncoderInfo { frames: Some(frames), delay, padding }) if frames > 0 => {
            let total = u64::from(frames) * samples_per_frame;
            let trimmed = u64::from(delay) + u64::from(padding);
            if trimmed < total { total - trimmed } else { total }
        }
        // The encoder's header is a frame of silence, not counted.
        Some(_) => {
            frames(source, header, first + u64::from(header.frame_len()), end) * samples_per_frame
        }
        None => frames(source, header, first, end) * samples_per_frame,
    };
    Ok(Properties {
        codec: Codec::Mp3,
        duration: seconds(samples, header.sample_rate),
        audio_bytes: end - first,
        sample_rate: header.sample_rate,
        channels: if header.mono { 1 } else { 2 },
        bits_per_sample: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::Source;
    use super::{EncoderInfo, FrameHeader, encoder_info, properties};

    #[test]
    fn frame_headers() {
        // (bytes, (sample rate, bitrate, frame length, samples, mono)).
        type Want = Option<(u32, u32, u32, u32, bool)>;
        #[rustfmt::skip]
        let cases: &[([u8; 4], Want)] = &[
            ([0xff, 0xfb, 0x90, 0x64], Some((44_100, 128_000, 417, 1152, false))),
            ([0xff, 0xfb, 0x92, 0xc4], Some((44_100, 128_000, 418, 1152, true))),
            ([0xff, 0xfb, 0x94, 0x64], Some((48_000, 128_000, 384, 1152, false))),
            ([0xff, 0xf3, 0x40, 0xc4], Some((22_050, 32_000, 104, 576, true))),
            ([0xff, 0xe3, 0x10, 0xc4], Some((11_025, 8_000, 52, 576, true))),
            ([0xff, 0xfd, 0x94, 0x04], Some((48_000, 160_000, 480, 1152, false))),
            ([0xff, 0xff, 0x90, 0x04], Some((44_100, 288_000, 312, 384, false))),
            ([0xff, 0xfb, 0x00, 0x64], None),
            ([0xff, 0xfb, 0xf0, 0x64], None),
            ([0xff, 0xfb, 0x9c, 0x64], None),
            ([0xff, 0xeb, 0x90, 0x64], None),
            ([0xff, 0xf9, 0x90, 0x64], None),
            ([0xff, 0xfb, 0x90, 0x66], None),
            ([0xfe, 0xfb, 0x90, 0x64], None),
        ];
        for &(bytes, want) in cases {
            let got = FrameHeader::parse(bytes)
                .map(|h| (h.sample_rate, h.bitrate, h.frame_len(), h.samples(), h.mono));
            assert_eq!(got, want, "{bytes:x?}");
        }
    }

    fn frame(header: [u8; 4]) -> Vec<u8> {
        let mut frame = header.to_vec();
        frame.resize(FrameHeader::parse(header).unwrap().frame_len() as usize, 0);
        frame
    }

    #[test]
    fn lame_header_gives_frames_and_gapless_delays() {
        let header = [0xff, 0xfb, 0x92, 0xc4];
        let mut first = frame(header);
        let at = 4 + 17;
        first[at..at + 4].copy_from_slice(b"Info");
        first[at + 4..at + 8].copy_from_slice(&0x0fu32.to_be_bytes());
        first[at + 8..at + 12].copy_from_slice(&116u32.to_be_bytes());
        let lame = at + 8 + 4 + 4 + 100 + 4;
        first[lame..lame + 4].copy_from_slice(b"LAME");
        // Delay 576 (0x240), padding 1308 (0x51c).
        first[lame + 21..lame + 24].copy_from_slice(&[0x24, 0x05, 0x1c]);
        let parsed = FrameHeader::parse(header).unwrap();
        let want = EncoderInfo { frames: Some(116), delay: 576, padding: 1308 };
        assert_eq!(encoder_info(&parsed, &first), Some(want));

        let mut file = first;
        for _ in 0..116 {
            file.extend(frame(header));
        }
        let len = file.len() as u64;
        let got = properties(&mut Source::new(file, len)).unwrap();
        assert_eq!(got.duration, super::seconds(116 * 1152 - 576 - 1308, 44_100));
        assert_eq!((got.sample_rate, got.channels, got.audio_bytes), (44_100, 1, len));
    }

    #[test]
    fn frames_are_counted_without_an_encoder_header() {
        let header = [0xff, 0xfb, 0x90, 0x64];
        let mut file = b"ID3\x03\0\0\0\0\0\x05junk!".to_vec();
        for i in 0..10 {
            file.extend(frame(header));
            if i == 4 {
                file.extend(b"garbage between frames");
            }
        }
        file.extend(b"TAG");
        file.resize(file.len() + 125, 0);
        let len = file.len() as u64;
        let got = properties(&mut Source::new(file, len)).unwrap();
        assert_eq!(got.duration, super::seconds(10 * 1152, 44_100));
        assert_eq!(got.audio_bytes, 10 * 417 + 22);
    }

    #[test]
    fn long_constant_streams_are_divided_and_variable_ones_scanned() {
        let (cbr, other) = ([0xff, 0xfb, 0x90, 0x64], [0xff, 0xfb, 0xa0, 0x64]);
        // 3000 frames at 128 kb/s: an encoder pads a frame by a byte whenever the
        // fractional bytes it owes add up to one, 144 × 128000 / 44100 = 417.96 on average.
        let mut constant = Vec::new();
        let mut owed = 0;
        for _ in 0..3000 {
            let mut header = cbr;
            owed += 144 * 128_000 % 44_100;
            if owed >= 44_100 {
                owed -= 44_100;
                header[2] |= 2;
            }
            constant.extend(frame(header));
        }
        let len = constant.len() as u64;
        let got = properties(&mut Source::new(constant.clone(), len)).unwrap();
        assert_eq!(got.duration, super::seconds(3000 * 1152, 44_100));
        // Its second half at 160 kb/s: sampling sees it, and the frames are counted one by one
        // (dividing by the first frame's length would make them 3375).
        let half = constant.len() / 2;
        let boundary =
            (0..=half).rev().find(|&i| constant[i..].starts_with(&[0xff, 0xfb])).unwrap();
        let first_half = constant[..boundary].windows(2).filter(|w| w == &[0xff, 0xfb]).count();
        let mut variable = constant[..boundary].to_vec();
        for _ in first_half..3000 {
            variable.extend(frame(other));
        }
        let len = variable.len() as u64;
        let got = properties(&mut Source::new(variable, len)).unwrap();
        assert_eq!(got.duration, super::seconds(3000 * 1152, 44_100));
    }

    #[test]
    fn no_frames_is_malformed() {
        for file in [vec![], vec![0xff; 3], b"garbage".to_vec(), vec![0xff, 0xfb, 0x90, 0x64]] {
            let len = file.len() as u64;
            assert!(properties(&mut Source::new(file.clone(), len)).is_err(), "{file:x?}");
        }
    }
}
