//! HLS renditions of a library file, `/hls/<path>/…` (RFC 8216): which renditions a source
//! gets, how each is cut into segments, their playlists, and the target a request names.
//!
//! Every rendition is cut at the same instants, about [`SEGMENT_SECS`] apart, so a player can
//! switch between them at any segment. AAC-LC runs at the source's rate where AAC has it (else
//! 48 or 44.1 kHz), in segments of whole 1024-sample packets; the lossless rendition is FLAC at
//! the source's rate and bits, in frames of 4096 samples. A segment is a whole number of FLAC
//! frames and of AAC packets, so only the last segment of a file is short, and the `EXTINF`s add
//! up to the source's exact duration.

use crate::fmp4::{self, Track, TrackCodec};
use crate::path::PathError;
use crate::reply::{Reply, Status};

/// The media type of playlists.
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// The media type of initialization and media segments.
pub const SEGMENT_TYPE: &str = "audio/mp4";
/// The name of every playlist, multivariant and media.
const PLAYLIST: &str = "index.m3u8";
/// The name of a rendition's initialization segment.
const INIT: &str = "init.mp4";

/// The AAC-LC bitrates offered, in kbit/s, where the tenant's `max_bitrate` allows them.
const AAC_BITRATES: [u32; 3] = [64, 128, 256];
/// Samples in an AAC-LC packet.
const AAC_PACKET: u64 = 1024;
/// Samples in a FLAC frame (the last may have fewer): four AAC packets.
const FLAC_BLOCK: u64 = 4096;
/// The highest rate of a FLAC rendition: a segment of 192 kHz, 24-bit stereo is 6.9 MB, which
/// the host holds while it is sent; a header claiming more is not a real recording.
const MAX_FLAC_RATE: u32 = 192_000;
/// The duration segments aim at; they are a whole number of FLAC frames at the AAC rate.
const SEGMENT_SECS: u64 = 6;
/// How far above its nominal bitrate an AAC segment may go: the encoder's rate control kept
/// 6-second segments within 2 % (white noise at 256 kbit/s, the worst measured here); the host
/// encodes a segment again at a lower bitrate if it would pass this.
const AAC_HEADROOM_PERCENT: u64 = 5;
/// The most bytes a FLAC frame adds to its samples: a 16-byte header at most, a subframe
/// header and padding per channel, the CRC. The encoder keeps a frame that is no larger than
/// its samples with one more bit per sample for a stereo side channel (white noise made frames
/// of 16,920 bytes for 16,384 of samples), and falls back to verbatim subframes past that.
const FLAC_FRAME_OVERHEAD: u64 = 32;

/// The source, as the host's probe found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Samples per second.
    pub rate: u32,
    /// Samples per channel.
    pub samples: u64,
    /// 1 or 2.
    pub channels: u8,
    /// Bits per sample a lossless rendition keeps: 16 or 24.
    pub bits: u8,
    /// Whether the source is lossless.
    pub lossless: bool,
    /// The tenant's cap on transcode bitrates in kbit/s; 0 for none.
    pub max_bitrate: u32,
}

/// A rendition's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// AAC-LC at this many kbit/s.
    Aac(u32),
    /// FLAC, the source's samples exactly.
    Flac,
}

impl Variant {
    /// The rendition's path segment: `aac-128`, `flac`.
    pub fn name(self) -> String {
        match self {
            Self::Aac(kbps) => ["aac-", itoa::Buffer::new().format(kbps)].concat(),
            Self::Flac => "flac".to_owned(),
        }
    }

    /// The variant a path segment names, if it is written as [`Self::name`] writes it.
    fn parse(name: &str) -> Option<Self> {
        if name == "flac" {
            return Some(Self::Flac);
        }
        let digits = name.strip_prefix("aac-")?;
        let canonical = !digits.is_empty() && !digits.starts_with('0') && digits.len() <= 4;
        let kbps = digits
            .parse()
            .ok()
            .filter(|_| canonical && digits.bytes().all(|b| b.is_ascii_digit()))?;
        Some(Self::Aac(kbps))
    }

    /// The `CODECS` attribute (RFC 6381).
    fn codecs(self) -> &'static str {
        match self {
            Self::Aac(_) => "mp4a.40.2",
            Self::Flac => "fLaC",
        }
    }
}

/// One rendition of a source: its codec, rate and segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendition {
    /// The codec.
    pub variant: Variant,
    /// Samples per second, the timescale of its track.
    pub rate: u32,
    /// Samples per channel at `rate`.
    pub samples: u64,
    /// Samples in every segment but the last.
    pub segment_samples: u64,
    /// 1 or 2.
    pub channels: u8,
    /// Bits per sample (FLAC).
    pub bits: u8,
}

/// Where a segment lies in its rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Its first sample.
    pub first: u64,
    /// Its samples.
    pub samples: u64,
}

/// The rate AAC-LC encodes a source of `rate` at: the source's where AAC has it, else the
/// AAC rate it is a multiple of (so segments of the two renditions start at the same sample),
/// else 48 kHz. AAC-LC above 48 kHz adds nothing a listener hears.
fn aac_rate(rate: u32) -> u32 {
    match rate {
        rate if rate <= 48_000 && fmp4::is_aac_rate(rate) => rate,
        rate if rate.is_multiple_of(44_100) => 44_100,
        _ => 48_000,
    }
}

/// The renditions of `source`, as the multivariant playlist lists them: AAC-LC at 64, 128 and
/// 256 kbit/s (those within the tenant's cap; only the cap itself when it is below them all),
/// and FLAC for a lossless source of up to 192 kHz whose segments fall on whole samples and
/// whose bitrate the cap allows. None for a source without samples.
pub fn renditions(source: &Source) -> Vec<Rendition> {
    if source.samples == 0 || source.rate == 0 {
        return Vec::new();
    }
    let rate = aac_rate(source.rate);
    let blocks = (SEGMENT_SECS * u64::from(rate) + FLAC_BLOCK / 2) / FLAC_BLOCK;
    let segment_samples = blocks.max(1) * FLAC_BLOCK;
    let samples = (u128::from(source.samples) * u128::from(rate) / u128::from(source.rate)) as u64;
    let capped = |kbps: u32| source.max_bitrate == 0 || kbps <= source.max_bitrate;
    let mut bitrates: Vec<u32> = AAC_BITRATES.into_iter().filter(|&kbps| capped(kbps)).collect();
    if bitrates.is_empty() {
        bitrates.push(source.max_bitrate);
    }
    let aac = |kbps| Rendition {
        variant: Variant::Aac(kbps),
        rate,
        samples: samples.max(1),
        segment_samples,
        channels: source.channels,
        bits: 16,
    };
    let mut renditions: Vec<Rendition> = bitrates.into_iter().map(aac).collect();
    let flac_segment = segment_samples * u64::from(source.rate);
    let flac = Rendition {
        variant: Variant::Flac,
        rate: source.rate,
        samples: source.samples,
        segment_samples: flac_segment / u64::from(rate),
        channels: source.channels,
        bits: source.bits,
    };
    let pcm_bitrate = u64::from(source.rate) * u64::from(source.channels) * u64::from(source.bits);
    if source.lossless
        && source.rate <= MAX_FLAC_RATE
        && flac_segment.is_multiple_of(u64::from(rate))
        && (source.max_bitrate == 0 || pcm_bitrate <= u64::from(source.max_bitrate) * 1000)
    {
        renditions.push(flac);
    }
    renditions
}

impl Rendition {
    /// Its segments.
    pub fn segments(&self) -> u64 {
        self.samples.div_ceil(self.segment_samples)
    }

    /// Segment `index`, if the rendition has it.
    pub fn segment(&self, index: u64) -> Option<Segment> {
        let first =
            index.checked_mul(self.segment_samples).filter(|&first| first < self.samples)?;
        Some(Segment { first, samples: self.segment_samples.min(self.samples - first) })
    }

    /// Samples in each packet (AAC) or frame (FLAC).
    fn packet_samples(&self) -> u64 {
        match self.variant {
            Variant::Aac(_) => AAC_PACKET,
            Variant::Flac => FLAC_BLOCK,
        }
    }

    /// Packets (or frames) the host returns for `segment`.
    pub fn packets(&self, segment: &Segment) -> u64 {
        segment.samples.div_ceil(self.packet_samples())
    }

    /// The most bytes the packets of `segment` may take: for AAC its share of the nominal
    /// bitrate and the headroom; for FLAC its samples and each frame's overhead.
    pub fn max_bytes(&self, segment: &Segment) -> u64 {
        match self.variant {
            Variant::Aac(kbps) => {
                let bytes_per_sec = u64::from(kbps) * 1000 * (100 + AAC_HEADROOM_PERCENT) / 100 / 8;
                (u128::from(bytes_per_sec) * u128::from(segment.samples) / u128::from(self.rate))
                    as u64
            }
            Variant::Flac => {
                // A side channel takes one bit more than the source's.
                let bits_per_frame =
                    u64::from(self.channels) * u64::from(self.bits) + u64::from(self.channels) - 1;
                (segment.samples * bits_per_frame).div_ceil(8)
                    + self.packets(segment) * FLAC_FRAME_OVERHEAD
            }
        }
    }

    /// `BANDWIDTH`: a bound on the bit rate of any run of segments (RFC 8216 §4.3.4.2): the
    /// packets' bound per second, and two segment headers within the shortest such run.
    pub fn bandwidth(&self) -> u64 {
        let whole = Segment { first: 0, samples: self.segment_samples };
        let payload = self.max_bytes(&whole) * 8 * u64::from(self.rate) / self.segment_samples;
        let headers = 2 * self.header_len(&whole) * 8;
        let shortest = self.segment_samples.min(self.samples).max(1);
        payload + 1 + (headers * u64::from(self.rate)).div_ceil(shortest)
    }

    /// The most bytes of a header of `segment`: FLAC writes frame durations (the last frame
    /// of a file is shorter), AAC only sizes.
    fn header_len(&self, segment: &Segment) -> u64 {
        fmp4::segment_header_len(self.packets(segment), self.variant == Variant::Flac)
    }

    /// What the initialization segment describes.
    pub fn track(&self) -> Track {
        let codec = match self.variant {
            Variant::Aac(kbps) => TrackCodec::Aac { bitrate: kbps * 1000 },
            Variant::Flac => TrackCodec::Flac {
                block: FLAC_BLOCK as u16,
                bits: self.bits,
                samples: self.samples,
            },
        };
        Track { codec, rate: self.rate, channels: self.channels }
    }

    /// The header of segment `index` (which must exist) around packets of `sizes`: decode
    /// times count samples from the rendition's start, and only the last FLAC frame of the
    /// file is shorter than the others.
    pub fn segment_header(&self, index: u64, segment: &Segment, sizes: &[u32]) -> Vec<u8> {
        let packet = self.packet_samples();
        let durations: Vec<u32> = (0..sizes.len() as u64)
            .map(|at| match self.variant {
                // Every AAC packet decodes to 1024 samples; the last ends at most one packet
                // past the source.
                Variant::Aac(_) => packet,
                Variant::Flac => packet.min(segment.samples - at * packet),
            } as u32)
            .collect();
        let sequence = u32::try_from(index + 1).unwrap_or(u32::MAX);
        fmp4::segment_header(sequence, segment.first, packet as u32, &durations, sizes)
    }

    /// The VOD media playlist: the initialization segment, then every segment with its
    /// duration to the microsecond, summing to the rendition's exact duration. `query` is
    /// appended to every URI (`?token=…` or nothing).
    pub fn media_playlist(&self, query: &str) -> String {
        let micros = |sample: u64| {
            ((u128::from(sample) * 1_000_000 + u128::from(self.rate) / 2) / u128::from(self.rate))
                as u64
        };
        let segments = self.segments();
        let mut lines = String::with_capacity(200 + segments as usize * 32);
        let mut longest = 1;
        let mut body = String::with_capacity(segments as usize * 32);
        for index in 0..segments {
            let start = micros(index * self.segment_samples);
            let end = micros(((index + 1) * self.segment_samples).min(self.samples));
            let duration = end - start;
            longest = longest.max((duration + 500_000) / 1_000_000);
            body.push_str("#EXTINF:");
            push_micros(&mut body, duration);
            body.push_str(",\n");
            body.push_str(itoa::Buffer::new().format(index));
            body.push_str(".m4s");
            body.push_str(query);
            body.push('\n');
        }
        lines.push_str("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:");
        lines.push_str(itoa::Buffer::new().format(longest));
        lines.push_str("\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n");
        lines.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"");
        lines.push_str(INIT);
        lines.push_str(query);
        lines.push_str("\"\n");
        lines.push_str(&body);
        lines.push_str("#EXT-X-ENDLIST\n");
        lines
    }
}

/// `micros` microseconds as seconds with six decimals.
fn push_micros(out: &mut String, micros: u64) {
    out.push_str(itoa::Buffer::new().format(micros / 1_000_000));
    out.push('.');
    let fraction = itoa::Buffer::new().format(micros % 1_000_000 + 1_000_000).to_owned();
    out.push_str(&fraction[1..]);
}

/// The multivariant playlist of `renditions`, each with its `BANDWIDTH` and `CODECS`; `query`
/// is appended to every URI.
pub fn multivariant(renditions: &[Rendition], query: &str) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for rendition in renditions {
        out.push_str("#EXT-X-STREAM-INF:BANDWIDTH=");
        out.push_str(itoa::Buffer::new().format(rendition.bandwidth()));
        out.push_str(",CODECS=\"");
        out.push_str(rendition.variant.codecs());
        out.push_str("\"\n");
        out.push_str(&rendition.variant.name());
        out.push('/');
        out.push_str(PLAYLIST);
        out.push_str(query);
        out.push('\n');
    }
    out
}

/// What a request under `/hls/` names, after its file's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `<file>/index.m3u8`.
    Multivariant,
    /// `<file>/<variant>/index.m3u8`.
    Media(Variant),
    /// `<file>/<variant>/init.mp4`.
    Init(Variant),
    /// `<file>/<variant>/<n>.m4s`.
    Segment(Variant, u64),
}

/// The file and the target `relative` (the decoded path after `/hls/`) names, or a 404. A
/// variant's name never ends like an audio file, so `a.flac/aac-64/index.m3u8` is a media
/// playlist of `a.flac`, and `b/a.flac/index.m3u8` the multivariant playlist of `b/a.flac`.
pub fn target(relative: &str) -> Result<(&str, Target), Reply> {
    let not_found = || Reply::from(PathError::NotFound);
    let is_audio = |file: &str| crate::mp3::container(file).is_some();
    let (rest, last) = relative.rsplit_once('/').ok_or_else(not_found)?;
    if last == PLAYLIST && is_audio(rest) {
        return Ok((rest, Target::Multivariant));
    }
    let (file, variant) = rest.rsplit_once('/').ok_or_else(not_found)?;
    let variant = Variant::parse(variant).filter(|_| is_audio(file)).ok_or_else(not_found)?;
    let target = match last {
        PLAYLIST => Target::Media(variant),
        INIT => Target::Init(variant),
        _ => {
            let digits = last.strip_suffix(".m4s").ok_or_else(not_found)?;
            let canonical = digits == "0" || !digits.starts_with('0');
            let valid =
                canonical && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            let index = digits.parse().ok().filter(|_| valid).ok_or_else(not_found)?;
            Target::Segment(variant, index)
        }
    };
    Ok((file, target))
}

/// The rendition of `renditions` for `variant`, or a 404 for one not offered.
pub fn find(renditions: &[Rendition], variant: Variant) -> Result<&Rendition, Reply> {
    renditions
        .iter()
        .find(|rendition| rendition.variant == variant)
        .ok_or_else(|| Reply::error(Status::NotFound, "No such rendition"))
}

/// What every URI in a playlist carries: `?token=…` when `query` has a token (so a tenant's
/// token reaches the segments), else nothing. A token of other than URI characters is left
/// out rather than written into a playlist.
pub fn token_query(query: Option<&str>) -> String {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~%!$'()*+,;=:@".contains(&byte);
    query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|token| token.bytes().all(allowed))
        .map_or_else(String::new, |token| ["?token=", token].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn source(rate: u32, samples: u64, lossless: bool, max_bitrate: u32) -> Source {
        Source { rate, samples, channels: 2, bits: 16, lossless, max_bitrate }
    }

    fn names(renditions: &[Rendition]) -> Vec<String> {
        renditions.iter().map(|r| r.variant.name()).collect()
    }

    /// (name, source, renditions, AAC rate, AAC segment samples, FLAC segment samples)
    type RenditionsCase = (&'static str, Source, &'static [&'static str], u32, u64, Option<u64>);

    #[test]
    fn renditions_table() {
        #[rustfmt::skip]
        let cases: [RenditionsCase; 12] = [
            ("CD FLAC", source(44_100, 441_000, true, 0), &["aac-64", "aac-128", "aac-256", "flac"], 44_100, 266_240, Some(266_240)),
            ("48 kHz MP3", source(48_000, 480_000, false, 0), &["aac-64", "aac-128", "aac-256"], 48_000, 286_720, None),
            ("96 kHz FLAC: AAC at 48", source(96_000, 960_000, true, 0), &["aac-64", "aac-128", "aac-256", "flac"], 48_000, 286_720, Some(573_440)),
            ("88.2 kHz: AAC at 44.1", source(88_200, 882_000, true, 0), &["aac-64", "aac-128", "aac-256", "flac"], 44_100, 266_240, Some(532_480)),
            ("an odd rate: no FLAC", source(44_101, 441_010, true, 0), &["aac-64", "aac-128", "aac-256"], 48_000, 286_720, None),
            ("384 kHz: no FLAC", source(384_000, 3_840_000, true, 0), &["aac-64", "aac-128", "aac-256"], 48_000, 286_720, None),
            ("8 kHz", source(8_000, 80_000, true, 0), &["aac-64", "aac-128", "aac-256", "flac"], 8_000, 49_152, Some(49_152)),
            ("cap 128", source(44_100, 441_000, true, 128), &["aac-64", "aac-128"], 44_100, 266_240, None),
            ("cap 1411: 1411.2 kbit/s of PCM is over it", source(44_100, 441_000, true, 1411), &["aac-64", "aac-128", "aac-256"], 44_100, 266_240, None),
            ("cap 1412 keeps FLAC", source(44_100, 441_000, true, 1412), &["aac-64", "aac-128", "aac-256", "flac"], 44_100, 266_240, Some(266_240)),
            ("cap 2000 keeps FLAC", source(44_100, 441_000, true, 2000), &["aac-64", "aac-128", "aac-256", "flac"], 44_100, 266_240, Some(266_240)),
            ("cap 48: only 48", source(44_100, 441_000, false, 48), &["aac-48"], 44_100, 266_240, None),
        ];
        for (name, source, want, rate, segment, flac) in cases {
            let renditions = renditions(&source);
            assert_eq!(names(&renditions), want, "{name}");
            assert_eq!(renditions[0].rate, rate, "{name}");
            assert_eq!(renditions[0].segment_samples, segment, "{name}");
            assert_eq!(renditions[0].segment_samples % 4096, 0, "{name}");
            let flac_rendition = renditions.iter().find(|r| r.variant == Variant::Flac);
            assert_eq!(flac_rendition.map(|r| r.segment_samples), flac, "{name}");
            if let Some(flac) = flac_rendition {
                assert_eq!(flac.samples, source.samples, "{name}: FLAC keeps every sample");
                // The same instants: segment k starts at the same time in both.
                let aac = &renditions[0];
                assert_eq!(
                    flac.segment_samples * u64::from(aac.rate),
                    aac.segment_samples * u64::from(flac.rate),
                    "{name}"
                );
            }
        }
        assert!(renditions(&source(44_100, 0, true, 0)).is_empty());
        assert!(renditions(&source(0, 10, true, 0)).is_empty());
    }

    #[test]
    fn segments_cover_every_sample_once() {
        // (samples, segment samples, segments, last segment's samples)
        let cases = [
            (441_000, 266_240, 2, 174_760),
            (266_240, 266_240, 1, 266_240),
            (266_241, 266_240, 2, 1),
            (1, 266_240, 1, 1),
        ];
        for (samples, segment_samples, count, last) in cases {
            let r = Rendition {
                variant: Variant::Flac,
                rate: 44_100,
                samples,
                segment_samples,
                channels: 2,
                bits: 16,
            };
            assert_eq!(r.segments(), count, "{samples}");
            let segments: Vec<Segment> = (0..count).map(|i| r.segment(i).unwrap()).collect();
            assert_eq!(segments.iter().map(|s| s.samples).sum::<u64>(), samples);
            assert_eq!(segments.last().unwrap().samples, last);
            assert!(segments.windows(2).all(|w| w[0].first + w[0].samples == w[1].first));
            assert_eq!(r.segment(count), None);
            assert_eq!(r.segment(u64::MAX), None);
        }
    }

    #[test]
    fn media_playlist_durations_sum_to_the_source() {
        let flac = renditions(&source(44_100, 441_000 + 17, true, 0)).pop().unwrap();
        let playlist = flac.media_playlist("?token=a%20b");
        let lines: Vec<&str> = playlist.lines().collect();
        assert_eq!(
            lines[..7],
            [
                "#EXTM3U",
                "#EXT-X-VERSION:7",
                "#EXT-X-TARGETDURATION:6",
                "#EXT-X-MEDIA-SEQUENCE:0",
                "#EXT-X-PLAYLIST-TYPE:VOD",
                "#EXT-X-INDEPENDENT-SEGMENTS",
                "#EXT-X-MAP:URI=\"init.mp4?token=a%20b\"",
            ]
        );
        assert_eq!(
            lines[7..],
            [
                "#EXTINF:6.037188,",
                "0.m4s?token=a%20b",
                "#EXTINF:3.963197,",
                "1.m4s?token=a%20b",
                "#EXT-X-ENDLIST"
            ]
        );
        // 6.037188 + 3.963197 = 10.000385 = 441017 / 44100 to the microsecond.
        let aac = renditions(&source(48_000, 48_000 * 600, false, 0))[1];
        let playlist = aac.media_playlist("");
        let micros: u64 = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| d.trim_end_matches(',').replace('.', "").parse::<u64>().unwrap())
            .sum();
        assert_eq!(micros, 600_000_000);
        assert_eq!(playlist.matches(".m4s").count() as u64, aac.segments());
        assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn push_micros_pads_the_fraction() {
        let cases =
            [(0, "0.000000"), (1, "0.000001"), (6_037_188, "6.037188"), (60_000_000, "60.000000")];
        for (micros, want) in cases {
            let mut out = String::new();
            push_micros(&mut out, micros);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn multivariant_lists_renditions_with_bandwidth_and_codecs() {
        let list = renditions(&source(44_100, 441_000 * 60, true, 0));
        let playlist = multivariant(&list, "");
        let lines: Vec<&str> = playlist.lines().collect();
        assert_eq!(lines[..3], ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]);
        let uris: Vec<&str> = lines.iter().copied().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            uris,
            ["aac-64/index.m3u8", "aac-128/index.m3u8", "aac-256/index.m3u8", "flac/index.m3u8"]
        );
        let bandwidths: Vec<u64> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("#EXT-X-STREAM-INF:BANDWIDTH="))
            .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
            .collect();
        // Nominal plus the headroom, plus two segment headers per six seconds.
        assert!(bandwidths[0] > 67_200 && bandwidths[0] < 71_000, "{bandwidths:?}");
        assert!(bandwidths[2] > 268_800 && bandwidths[2] < 273_000, "{bandwidths:?}");
        // FLAC: 33 bits a sample frame (a side channel takes 17), and each frame's overhead.
        assert!(bandwidths[3] > 1_455_300 && bandwidths[3] < 1_475_000, "{bandwidths:?}");
        assert!(playlist.contains("CODECS=\"mp4a.40.2\"") && playlist.contains("CODECS=\"fLaC\""));
    }

    #[test]
    fn bandwidth_bounds_the_largest_segment_allowed() {
        for r in renditions(&source(44_100, 441_000 * 60, true, 0))
            .into_iter()
            .chain(renditions(&source(44_100, 1000, true, 0)))
        {
            for index in 0..r.segments() {
                let segment = r.segment(index).unwrap();
                let bytes = r.max_bytes(&segment) + r.header_len(&segment);
                let secs = segment.samples as f64 / f64::from(r.rate);
                // A run of at least half the target duration, or the whole file when shorter.
                let run = secs.max(3.0_f64.min(r.samples as f64 / f64::from(r.rate)));
                assert!(
                    bytes as f64 * 8.0 / run <= r.bandwidth() as f64,
                    "{:?} segment {index}",
                    r.variant
                );
            }
        }
    }

    #[test]
    fn segment_header_durations() {
        let flac = renditions(&source(44_100, 300_000, true, 0)).pop().unwrap();
        let last = flac.segment(1).unwrap();
        assert_eq!(last.samples, 300_000 - 266_240);
        let packets = flac.packets(&last);
        assert_eq!(packets, 9);
        let header = flac.segment_header(1, &last, &vec![100; packets as usize]);
        // The last frame's duration (33760 − 8 × 4096 = 992) is written per sample.
        assert!(header.windows(4).any(|w| w == 992u32.to_be_bytes()));
        let aac = renditions(&source(44_100, 300_000, true, 0))[0];
        let segment = aac.segment(1).unwrap();
        assert_eq!(aac.packets(&segment), 33);
        let header = aac.segment_header(1, &segment, &[300; 33]);
        assert_eq!(header.len() as u64, 100 + 4 * 33, "sizes only: every packet 1024");
    }

    /// (decoded path, its file and target)
    type TargetCase = (&'static str, Result<(&'static str, Target), Status>);

    #[test]
    fn target_table() {
        use Target::*;
        #[rustfmt::skip]
        let cases: &[TargetCase] = &[
            ("a.flac/index.m3u8", Ok(("a.flac", Multivariant))),
            ("Artist/Album/01 a.mp3/index.m3u8", Ok(("Artist/Album/01 a.mp3", Multivariant))),
            ("a.flac/aac-128/index.m3u8", Ok(("a.flac", Media(Variant::Aac(128))))),
            ("a.flac/flac/init.mp4", Ok(("a.flac", Init(Variant::Flac)))),
            ("a.flac/aac-64/0.m4s", Ok(("a.flac", Segment(Variant::Aac(64), 0)))),
            ("d/a.wv/aac-256/17.m4s", Ok(("d/a.wv", Segment(Variant::Aac(256), 17)))),
            ("a.flac/aac-64/007.m4s", Err(Status::NotFound)),
            ("a.flac/aac-64/-1.m4s", Err(Status::NotFound)),
            ("a.flac/aac-64/.m4s", Err(Status::NotFound)),
            ("a.flac/aac-64/1.ts", Err(Status::NotFound)),
            ("a.flac/aac-064/index.m3u8", Err(Status::NotFound)),
            ("a.flac/aac-/index.m3u8", Err(Status::NotFound)),
            ("a.flac/opus/index.m3u8", Err(Status::NotFound)),
            ("a.txt/index.m3u8", Err(Status::NotFound)),
            ("a.txt/flac/index.m3u8", Err(Status::NotFound)),
            ("index.m3u8", Err(Status::NotFound)),
            ("a.flac", Err(Status::NotFound)),
            ("a.flac/flac", Err(Status::NotFound)),
            ("a.flac/aac-99999/index.m3u8", Err(Status::NotFound)),
            ("a.flac/aac-64/99999999999999999999.m4s", Err(Status::NotFound)),
        ];
        for &(relative, want) in cases {
            assert_eq!(target(relative).map_err(|reply| reply.status), want, "{relative:?}");
        }
    }

    #[test]
    fn token_query_table() {
        #[rustfmt::skip]
        let cases = [
            (None, ""), (Some(""), ""), (Some("token=abc"), "?token=abc"),
            (Some("x=1&token=a%2Fb"), "?token=a%2Fb"), (Some("token=a\"b"), ""),
            (Some("token=a<b"), ""), (Some("tokens=x"), ""),
        ];
        for (query, want) in cases {
            assert_eq!(token_query(query), want, "{query:?}");
        }
    }
}
