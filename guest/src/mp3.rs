//! The MP3 representation of any library file, `/stream/mp3/…`: constant-bitrate MPEG-1
//! Layer III at 48 kHz with no bit reservoir, so every frame is `3 × kbit/s` bytes and a byte
//! offset is a frame. The stream is an Info frame the guest writes (frame count, byte count,
//! seek table, encoder delay and padding, so players show the exact duration and play it
//! gaplessly), then the frames the host encodes. Maps byte ranges of it to frames.

use crate::reply::{Reply, Status};

/// The media type of an MP3 stream.
pub const MEDIA_TYPE: &str = "audio/mpeg";

/// The bitrates MPEG-1 Layer III can signal, in kbit/s, by header index 1..=14.
pub const BITRATES: [u32; 14] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/// The bitrate of a request that names none, in kbit/s.
pub const DEFAULT_BITRATE: u32 = 192;

/// Samples per channel in one frame.
pub const SAMPLES_PER_FRAME: u64 = 1152;

/// Samples between the first source sample fed to the encoder and where it appears in the
/// decoded stream: LAME's 576 samples of encoder delay plus the decoder's 529 of filterbank
/// delay (ffmpeg's libmp3lame measured here: 1105, and its own Info tag says 576).
pub const DELAY: u64 = ENCODER_DELAY + DECODER_DELAY;
/// The encoder delay the Info tag records; decoders add [`DECODER_DELAY`] themselves.
const ENCODER_DELAY: u64 = 576;
const DECODER_DELAY: u64 = 529;

/// The encoder the LAME tag names: decoders (ffmpeg's, so Chromium's) trust its delay and
/// padding only when it begins `LAME`, and libmp3lame makes every frame.
const ENCODER: &[u8; 9] = b"LAME3.100";

/// Where the `Info` tag starts: after the 4-byte header and the side information (32 bytes
/// for two channels, 17 for one, in MPEG-1).
const fn tag_offset(channels: u8) -> usize {
    if channels == 1 { 4 + 17 } else { 4 + 32 }
}

/// `Info` tag flags: frames, bytes, seek table (TOC), quality fields present.
const FLAG_FRAMES: u32 = 1;
const FLAG_BYTES: u32 = 2;
const FLAG_TOC: u32 = 4;
const FLAG_QUALITY: u32 = 8;
/// Entries in the seek table: one per percent of the duration.
const TOC_LEN: usize = 100;
/// Bytes of the LAME extension after the `Info` fields, its CRC included.
const LAME_LEN: usize = 36;

/// A library file's container, by extension: the host forces its demuxer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `.mp3`.
    Mp3,
    /// `.flac`.
    Flac,
    /// `.wav`.
    Wav,
    /// `.m4a`, `.m4b`.
    Mp4,
    /// `.ogg`, `.opus`.
    Ogg,
    /// `.wma`.
    Asf,
    /// `.wv`.
    Wavpack,
}

/// Extensions (ASCII case-insensitive) and the container they name.
const CONTAINERS: &[(&str, Container)] = &[
    ("mp3", Container::Mp3),
    ("flac", Container::Flac),
    ("wav", Container::Wav),
    ("m4a", Container::Mp4),
    ("m4b", Container::Mp4),
    ("ogg", Container::Ogg),
    ("opus", Container::Ogg),
    ("wma", Container::Asf),
    ("wv", Container::Wavpack),
];

/// The container of the audio file at `relative`, or `None` for a file that is not audio.
pub fn container(relative: &str) -> Option<Container> {
    crate::mime::audio_type(relative)?;
    let (_, extension) = relative.rsplit_once('.')?;
    CONTAINERS.iter().find(|(known, _)| known.eq_ignore_ascii_case(extension)).map(|&(_, c)| c)
}

/// The bitrate in `query` (the request target's part after `?`): `bitrate=K` for one of
/// [`BITRATES`], [`DEFAULT_BITRATE`] without one, a 400 for any other value.
pub fn requested_bitrate(query: Option<&str>) -> Result<u32, Reply> {
    let value = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("bitrate="));
    let Some(value) = value else { return Ok(DEFAULT_BITRATE) };
    let digits = value.bytes().all(|byte| byte.is_ascii_digit());
    value.parse().ok().filter(|kbps| digits && BITRATES.contains(kbps)).ok_or_else(|| {
        Reply::error(
            Status::BadRequest,
            "bitrate must be one of 32 40 48 56 64 80 96 112 128 160 192 224 256 320",
        )
    })
}

/// An MP3 stream of a source, as the host's probe describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Stream {
    /// Samples per channel of the source at 48 kHz.
    pub samples: u64,
    /// 1 (mono) or 2 (joint stereo).
    pub channels: u8,
    /// kbit/s, one of [`BITRATES`].
    pub bitrate: u32,
}

/// Bytes of the audio frames: `skip` bytes into frame `first_frame` (0 is the first audio
/// frame, after the Info frame), `len` bytes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// The audio frame holding the span's first byte.
    pub first_frame: u64,
    /// Bytes of `first_frame` before the span starts.
    pub skip: u64,
    /// Bytes in the span.
    pub len: u64,
}

impl Mp3Stream {
    /// Bytes in every frame: 144 × bit/s ÷ 48000, a whole number at 48 kHz, so no padding.
    pub fn frame_len(&self) -> u64 {
        3 * u64::from(self.bitrate)
    }

    /// Audio frames: enough for the delay and every source sample.
    pub fn frames(&self) -> u64 {
        (self.samples + DELAY).div_ceil(SAMPLES_PER_FRAME)
    }

    /// Bytes of the whole stream, the Info frame included: what `Content-Length` says for a 200.
    pub fn len(&self) -> u64 {
        (self.frames() + 1) * self.frame_len()
    }

    /// Whether the stream has no bytes; never, as it always has its Info frame.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The 4-byte header of the Info frame: MPEG-1 Layer III without CRC, this bitrate, 48 kHz,
    /// no padding, joint stereo or mono, "original" as LAME sets it. The encoder's frames have
    /// the same, but for the mode extension bits it picks per frame.
    pub fn frame_header(&self) -> [u8; 4] {
        let index = BITRATES.iter().position(|&kbps| kbps == self.bitrate).map_or(0, |i| i + 1);
        let mode = if self.channels == 1 { 0b11 } else { 0b01 };
        [0xFF, 0xFB, (index as u8) << 4 | 0b01 << 2, mode << 6 | 0b100]
    }

    /// The first frame: silent to a decoder (zero side information), carrying the `Info` tag
    /// and its LAME extension. The seek table is left out where the frame is too small for it
    /// (below 64 kbit/s in stereo, as every field is still needed and fits).
    pub fn info_frame(&self) -> Vec<u8> {
        let frame_len = self.frame_len() as usize;
        let mut frame = vec![0; frame_len];
        frame[..4].copy_from_slice(&self.frame_header());
        let at = tag_offset(self.channels);
        let with_toc = at + 20 + TOC_LEN + LAME_LEN <= frame_len;
        let mut flags = FLAG_FRAMES | FLAG_BYTES | FLAG_QUALITY;
        if with_toc {
            flags |= FLAG_TOC;
        }
        let frames = u32::try_from(self.frames()).unwrap_or(u32::MAX);
        let bytes = u32::try_from(self.len()).unwrap_or(u32::MAX);
        let mut tag = Vec::with_capacity(20 + TOC_LEN + LAME_LEN);
        tag.extend_from_slice(b"Info");
        tag.extend_from_slice(&flags.to_be_bytes());
        tag.extend_from_slice(&frames.to_be_bytes());
        tag.extend_from_slice(&bytes.to_be_bytes());
        if with_toc {
            tag.extend(self.toc());
        }
        tag.extend_from_slice(&0u32.to_be_bytes()); // quality: not recorded
        tag.extend_from_slice(ENCODER);
        tag.push(0x01); // tag revision 0, method 1: constant bitrate
        tag.push(0); // lowpass: not recorded
        tag.extend_from_slice(&[0; 8]); // ReplayGain peak, radio and audiophile gain: none
        tag.push(0); // encoding flags and ATH type
        tag.push(self.bitrate.min(255) as u8);
        // 12 bits each: the encoder delay, and the samples of padding after the source.
        let padding = self.frames() * SAMPLES_PER_FRAME - self.samples - ENCODER_DELAY;
        let delays = (ENCODER_DELAY as u32) << 12 | padding as u32;
        tag.extend_from_slice(&delays.to_be_bytes()[1..]);
        // Source rate 48 kHz, stereo mode joint (3) or mono (0), no noise shaping.
        let stereo_mode = if self.channels == 1 { 0 } else { 3 };
        tag.push(0b10 << 6 | stereo_mode << 2);
        tag.push(0); // MP3 gain
        tag.extend_from_slice(&[0; 2]); // preset and surround
        tag.extend_from_slice(&bytes.to_be_bytes()); // music length, this frame included
        // The music CRC covers frames not yet encoded when this frame is sent: left 0.
        tag.extend_from_slice(&[0; 2]);
        frame[at..at + tag.len()].copy_from_slice(&tag);
        let crc_at = at + tag.len();
        let crc = crc16(&frame[..crc_at]);
        frame[crc_at..crc_at + 2].copy_from_slice(&crc.to_be_bytes());
        frame
    }

    /// The seek table: for each percent of the duration, where its frame starts, in 256ths
    /// of the stream.
    fn toc(&self) -> impl Iterator<Item = u8> + '_ {
        let (frames, len) = (self.frames(), self.len());
        (0..TOC_LEN as u64).map(move |percent| {
            let offset = (1 + percent * frames / 100) * self.frame_len();
            (offset * 256 / len).min(255) as u8
        })
    }

    /// Where bytes `start..start + len` of the stream come from: the bytes of the Info frame
    /// they cover, and the span of audio frames of the rest. The range must lie inside
    /// [`Self::len`], as the range planner guarantees.
    pub fn locate(&self, start: u64, len: u64) -> (Vec<u8>, Option<FrameSpan>) {
        let frame_len = self.frame_len();
        let end = start + len;
        let info = if start < frame_len {
            self.info_frame()[start as usize..end.min(frame_len) as usize].to_vec()
        } else {
            Vec::new()
        };
        let audio_start = start.max(frame_len) - frame_len;
        let audio_end = end.max(frame_len) - frame_len;
        let span = (audio_end > audio_start).then(|| FrameSpan {
            first_frame: audio_start / frame_len,
            skip: audio_start % frame_len,
            len: audio_end - audio_start,
        });
        (info, span)
    }
}

/// CRC-16/ARC (polynomial 0x8005, reflected, initial 0), which the LAME tag's CRC fields use.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { crc >> 1 ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn stream(samples: u64, channels: u8, bitrate: u32) -> Mp3Stream {
        Mp3Stream { samples, channels, bitrate }
    }

    fn be(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0, |n, &b| n << 8 | u64::from(b))
    }

    #[test]
    fn container_by_extension() {
        #[rustfmt::skip]
        let cases = [
            ("a.mp3", Some(Container::Mp3)), ("A/B.FLAC", Some(Container::Flac)),
            ("a.wav", Some(Container::Wav)), ("a.m4a", Some(Container::Mp4)),
            ("a.M4B", Some(Container::Mp4)), ("a.ogg", Some(Container::Ogg)),
            ("a.opus", Some(Container::Ogg)), ("a.wma", Some(Container::Asf)),
            ("a.wv", Some(Container::Wavpack)), ("a.txt", None), (".mp3", None), ("mp3", None),
        ];
        for (name, want) in cases {
            assert_eq!(container(name), want, "{name}");
        }
    }

    #[test]
    fn requested_bitrate_table() {
        #[rustfmt::skip]
        let cases: &[(Option<&str>, Result<u32, Status>)] = &[
            (None, Ok(192)),
            (Some(""), Ok(192)),
            (Some("token=x"), Ok(192)),
            (Some("bitrate=32"), Ok(32)),
            (Some("token=x&bitrate=320"), Ok(320)),
            (Some("bitrate=128&bitrate=64"), Ok(128)),
            (Some("bitrate=100"), Err(Status::BadRequest)),
            (Some("bitrate="), Err(Status::BadRequest)),
            (Some("bitrate=+128"), Err(Status::BadRequest)),
            (Some("bitrate=1280"), Err(Status::BadRequest)),
            (Some("bitrate=0"), Err(Status::BadRequest)),
            (Some("xbitrate=100"), Ok(192)),
        ];
        for &(query, want) in cases {
            assert_eq!(requested_bitrate(query).map_err(|reply| reply.status), want, "{query:?}");
        }
    }

    #[test]
    fn frame_len_is_three_bytes_per_kbit() {
        let lens: Vec<u64> = BITRATES.iter().map(|&k| stream(0, 2, k).frame_len()).collect();
        let want = [96, 120, 144, 168, 192, 240, 288, 336, 384, 480, 576, 672, 768, 960];
        assert_eq!(lens, want);
    }

    #[test]
    fn frames_cover_the_delay_and_every_sample() {
        // (samples, frames): 1105 samples of delay come first.
        #[rustfmt::skip]
        let cases = [(0, 1), (47, 1), (48, 2), (1152 - 1105, 1), (144_000, 126), (144_001, 126),
            (145_152 - 1105, 126), (145_152 - 1104, 127)];
        for (samples, frames) in cases {
            let mp3 = stream(samples, 2, 128);
            assert_eq!(mp3.frames(), frames, "{samples} samples");
            assert_eq!(mp3.len(), (frames + 1) * 384, "{samples} samples");
        }
    }

    #[test]
    fn frame_header_signals_bitrate_rate_and_mode() {
        assert_eq!(stream(0, 2, 128).frame_header(), [0xFF, 0xFB, 0x94, 0x44]);
        assert_eq!(stream(0, 1, 64).frame_header(), [0xFF, 0xFB, 0x54, 0xC4]);
        assert_eq!(stream(0, 2, 32).frame_header()[2], 0x14);
        assert_eq!(stream(0, 2, 320).frame_header()[2], 0xE4);
    }

    #[test]
    fn crc16_is_crc16_arc() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        assert_eq!(crc16(b""), 0);
    }

    /// (name, stream, whether its Info frame has the seek table).
    const INFO_CASES: &[(&str, Mp3Stream, bool)] = &[
        ("3 s of stereo at 128", stream(144_000, 2, 128), true),
        ("3 s of mono at 128", stream(144_000, 1, 128), true),
        ("stereo at 32: no room for the table", stream(144_000, 2, 32), false),
        ("mono at 32", stream(144_000, 1, 32), false),
        ("stereo at 64: the table just fits", stream(1, 2, 64), true),
        ("mono at 56: 9 bytes short of the table", stream(10_000_000, 1, 56), false),
        ("mono at 64", stream(10_000_000, 1, 64), true),
        ("stereo at 56", stream(10_000_000, 2, 56), false),
        ("an hour at 320", stream(172_800_000, 2, 320), true),
    ];

    #[test]
    fn info_frame_fields_table() {
        for &(name, mp3, with_toc) in INFO_CASES {
            let frame = mp3.info_frame();
            assert_eq!(frame.len() as u64, mp3.frame_len(), "{name}");
            assert_eq!(frame[..4], mp3.frame_header(), "{name}");
            let at = tag_offset(mp3.channels);
            assert!(frame[4..at].iter().all(|&b| b == 0), "{name}: side information is zero");
            let tag = &frame[at..];
            assert_eq!(&tag[..4], b"Info", "{name}");
            let flags = if with_toc { 15 } else { 11 };
            assert_eq!(be(&tag[4..8]), flags, "{name}");
            assert_eq!(be(&tag[8..12]), mp3.frames(), "{name}");
            assert_eq!(be(&tag[12..16]), mp3.len(), "{name}");
            let lame = &tag[if with_toc { 120 } else { 20 }..];
            if with_toc {
                let toc = &tag[16..116];
                assert_eq!(u64::from(toc[0]), 256 / (mp3.frames() + 1), "{name}: 0 % is frame 1");
                assert!(toc.windows(2).all(|w| w[0] <= w[1]), "{name}: {toc:?}");
            }
            assert_eq!(&lame[..9], b"LAME3.100", "{name}");
            assert_eq!(lame[9], 1, "{name}: CBR");
            assert_eq!(u32::from(lame[20]), mp3.bitrate.min(255), "{name}");
            let delays = be(&lame[21..24]);
            let padding = mp3.frames() * 1152 - mp3.samples - 576;
            assert_eq!((delays >> 12, delays & 0xFFF), (576, padding), "{name}");
            // Decoders drop delay + padding: what is left is the source, sample for sample.
            assert_eq!(mp3.frames() * 1152 - 576 - padding, mp3.samples, "{name}");
            assert_eq!(be(&lame[28..32]), mp3.len(), "{name}: music length");
            let crc_at = at + if with_toc { 120 } else { 20 } + 34;
            assert_eq!(
                be(&frame[crc_at..crc_at + 2]),
                u64::from(crc16(&frame[..crc_at])),
                "{name}"
            );
            assert!(frame[crc_at + 2..].iter().all(|&b| b == 0), "{name}");
        }
    }

    #[test]
    fn stereo_info_frame_crc_is_over_the_first_190_bytes() {
        let frame = stream(144_000, 2, 128).info_frame();
        assert_eq!(be(&frame[190..192]), u64::from(crc16(&frame[..190])));
    }

    #[test]
    fn locate_maps_ranges_to_info_bytes_and_frames() {
        // 3 s of stereo at 128 kbit/s: 384-byte frames, the Info frame then 126 audio frames.
        let mp3 = stream(144_000, 2, 128);
        let info = mp3.info_frame();
        let span = |first_frame, skip, len| Some(FrameSpan { first_frame, skip, len });
        #[rustfmt::skip]
        type Case = (&'static str, u64, u64, std::ops::Range<usize>, Option<FrameSpan>);
        let cases: &[Case] = &[
            ("info only", 0, 10, 0..10, None),
            ("whole stream", 0, 127 * 384, 0..384, span(0, 0, 126 * 384)),
            ("straddles", 380, 10, 380..384, span(0, 0, 6)),
            ("frame aligned", 384 * 11, 384, 0..0, span(10, 0, 384)),
            ("mid frame", 384 * 11 + 7, 1000, 0..0, span(10, 7, 1000)),
            ("last byte", 127 * 384 - 1, 1, 0..0, span(125, 383, 1)),
        ];
        for (name, start, len, want_info, want_span) in cases {
            let (bytes, located) = mp3.locate(*start, *len);
            assert_eq!(bytes, info[want_info.clone()].to_vec(), "{name}");
            assert_eq!(located, *want_span, "{name}");
        }
    }

    #[test]
    fn located_pieces_cover_exactly_the_requested_bytes() {
        let mp3 = stream(5000, 1, 32);
        for start in 0..mp3.len() {
            for len in [1, 2, 95, 96, 97, 500] {
                let len = len.min(mp3.len() - start);
                let (info, span) = mp3.locate(start, len);
                assert_eq!(info.len() as u64 + span.map_or(0, |s| s.len), len);
                if let Some(span) = span {
                    let end = (span.first_frame * mp3.frame_len()) + span.skip + span.len;
                    assert!(end <= mp3.frames() * mp3.frame_len());
                }
            }
        }
    }
}
