//! Reading media files inside the sandbox: which container a file is, its audio
//! properties, its tags and its embedded pictures.
//!
//! Every byte comes from a file that may have been crafted: each parser checks lengths,
//! offsets and counts against the file before it trusts them, caps what it reads into
//! memory, and bounds its loops, so a hostile file can only make its own request fail
//! (`Malformed`), never panic or exhaust the instance.

pub mod ape;
pub mod asf;
pub mod flac;
pub mod id3v2;
pub mod mp4;
pub mod mpeg;
pub mod ogg;
pub mod picture;
pub mod riff;
pub mod source;
pub mod tags;
pub mod wavpack;

#[cfg(test)]
mod fuzz;

/// Samples (at the sample rate), sample rate, channels and bits per sample, for tests.
#[cfg(test)]
fn summary(properties: Properties) -> (u64, u32, u16, u16) {
    let samples = (properties.duration.unwrap_or(0.0) * f64::from(properties.sample_rate)).round();
    let bits = properties.bits_per_sample.unwrap_or(0);
    (samples as u64, properties.sample_rate, properties.channels, bits)
}

use std::io;

use picture::Picture;
use source::{ReadAt, Source};
use tags::Tags;

/// The most bytes a parser reads into memory at once from a length it found in a file,
/// such as a whole ID3v2 tag, a Vorbis comment packet or a picture to decode.
pub const MAX_READ: usize = 16 * 1024 * 1024;

/// The file is not what its header says, or is cut short: nothing about it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl From<io::Error> for Malformed {
    fn from(_: io::Error) -> Self {
        Self
    }
}

/// The codec of a file's audio, named as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// MPEG audio (layer III, and layers I and II where an `.mp3` holds them).
    Mp3,
    /// FLAC, native or in Ogg or MP4.
    Flac,
    /// Uncompressed PCM, integer or float.
    Pcm,
    /// AAC in MP4.
    Aac,
    /// Apple Lossless in MP4.
    Alac,
    /// Vorbis in Ogg.
    Vorbis,
    /// Opus in Ogg.
    Opus,
    /// Windows Media Audio in ASF.
    Wma,
    /// WavPack.
    WavPack,
}

impl Codec {
    /// The name the API gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Pcm => "pcm",
            Self::Aac => "aac",
            Self::Alac => "alac",
            Self::Vorbis => "vorbis",
            Self::Opus => "opus",
            Self::Wma => "wma",
            Self::WavPack => "wavpack",
        }
    }

    /// Whether it is lossy, so that a bit depth means nothing.
    pub fn is_lossy(self) -> bool {
        matches!(self, Self::Mp3 | Self::Aac | Self::Vorbis | Self::Opus | Self::Wma)
    }
}

/// A file's audio properties, as a player shows them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Properties {
    /// The codec.
    pub codec: Codec,
    /// Seconds a player plays: encoder priming and padding removed where the file records
    /// them. `None` when the file does not say and cannot be measured.
    pub duration: Option<f64>,
    /// Bytes of encoded audio, without tags and container headers where they are known.
    pub audio_bytes: u64,
    /// Samples per second the decoder outputs.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Bits per sample of a lossless codec; `None` for a lossy one.
    pub bits_per_sample: Option<u16>,
}

impl Properties {
    /// The average bitrate in bits per second, measured: audio bytes × 8 / duration.
    pub fn bitrate(&self) -> Option<u64> {
        let duration = self.duration.filter(|&duration| duration > 0.0)?;
        Some((self.audio_bytes as f64 * 8.0 / duration).round() as u64)
    }
}

/// The kind of file, from its first bytes rather than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// MPEG audio frames, after any ID3v2 tag.
    Mpeg,
    /// Native FLAC (`fLaC`), possibly after an ID3v2 tag.
    Flac,
    /// Ogg (`OggS`): Vorbis, Opus or FLAC.
    Ogg,
    /// ISO base media (`ftyp`): M4A, M4B.
    Mp4,
    /// RIFF WAVE.
    Riff,
    /// WavPack (`wvpk`).
    WavPack,
    /// ASF: WMA.
    Asf,
}

/// Which container `head` (the first bytes after any ID3v2 tag) starts, or `None`: the
/// caller then tries MPEG, whose frames have no magic of their own.
pub fn container(head: &[u8]) -> Option<Container> {
    Some(match head {
        [b'f', b'L', b'a', b'C', ..] => Container::Flac,
        [b'O', b'g', b'g', b'S', ..] => Container::Ogg,
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Container::Riff,
        [b'w', b'v', b'p', b'k', ..] => Container::WavPack,
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Container::Mp4,
        _ if head.starts_with(&asf::HEADER_GUID) => Container::Asf,
        _ => return None,
    })
}

/// Everything the API says about one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// The audio properties, or `Malformed` when the header cannot be parsed.
    pub properties: Result<Properties, Malformed>,
    /// The tags; all absent when there are none or they cannot be read.
    pub tags: Tags,
    /// Whether the file embeds a picture [`front_cover`] would find.
    pub has_picture: bool,
}

/// Reads the properties, tags and picture presence of the file in `source`.
pub fn probe<R: ReadAt>(source: &mut Source<R>) -> Probed {
    let kind = identify(source);
    let found = match kind {
        Container::Mpeg => mpeg::properties(source),
        Container::Flac => flac::properties(source),
        Container::Ogg => ogg::properties(source),
        Container::Mp4 => mp4::properties(source),
        Container::Riff => riff::properties(source),
        Container::WavPack => wavpack::properties(source),
        Container::Asf => asf::properties(source),
    };
    // A file whose header does not parse is not read further: all of it is in doubt.
    let Ok(properties) = found else {
        return Probed { properties: Err(Malformed), tags: Tags::default(), has_picture: false };
    };
    let tags = match kind {
        Container::Asf => asf::tags(source).unwrap_or_default(),
        Container::Ogg => ogg::tags(source).unwrap_or_default(),
        _ => tags::read(source, kind),
    };
    let has_picture = !pictures(source, kind).is_empty();
    Probed { properties: Ok(properties), tags, has_picture }
}

/// The embedded picture to show for the file: the front cover, else the first picture.
pub fn front_cover<R: ReadAt>(source: &mut Source<R>) -> Option<Picture> {
    let kind = identify(source);
    picture::front(pictures(source, kind))
}

/// The container of the file in `source`: by its magic, else MPEG, whose frames have none
/// (its parser then decides whether there are any).
pub fn identify<R: ReadAt>(source: &mut Source<R>) -> Container {
    let start = id3v2::leading_tags_len(source);
    let head = source.up_to(start, 16);
    match container(&head) {
        // Only FLAC and MPEG are found after an ID3v2 tag.
        Some(found @ Container::Flac) => found,
        Some(found) if start == 0 => found,
        _ => Container::Mpeg,
    }
}

fn pictures<R: ReadAt>(source: &mut Source<R>, kind: Container) -> Vec<Picture> {
    match kind {
        Container::Mpeg => {
            let mut found = id3v2::pictures(source, 0).unwrap_or_default();
            found.extend(ape::pictures(source).unwrap_or_default());
            found
        }
        Container::Flac => flac::pictures(source).unwrap_or_default(),
        Container::Ogg => ogg::pictures(source).unwrap_or_default(),
        Container::Mp4 => mp4::pictures(source).unwrap_or_default(),
        Container::Riff => riff::pictures(source).unwrap_or_default(),
        Container::WavPack => ape::pictures(source).unwrap_or_default(),
        Container::Asf => asf::pictures(source).unwrap_or_default(),
    }
}

/// The seconds `samples` last at `rate` per second.
pub fn seconds(samples: u64, rate: u32) -> Option<f64> {
    (rate > 0).then(|| samples as f64 / f64::from(rate))
}

/// `samples` at `rate` per second as whole samples of another `rate`, for durations kept
/// in a container's timescale.
pub fn rescale(value: u64, from: u64, to: u64) -> Option<u64> {
    if from == 0 {
        return None;
    }
    u64::try_from(u128::from(value) * u128::from(to) / u128::from(from)).ok()
}

#[cfg(test)]
mod tests {
    use super::{Codec, Container, Properties, container, seconds};

    #[test]
    fn containers_by_magic() {
        let riff = *b"RIFF\0\0\0\0WAVEfmt ";
        let asf = super::asf::HEADER_GUID;
        #[rustfmt::skip]
        let cases: &[(&[u8], Option<Container>)] = &[
            (b"fLaC\0\0\0\x22", Some(Container::Flac)),
            (b"OggS\0\x02", Some(Container::Ogg)),
            (&riff, Some(Container::Riff)),
            (b"RIFF\0\0\0\0AVI LIST", None),
            (b"wvpk\0\0", Some(Container::WavPack)),
            (b"\0\0\0\x20ftypM4A ", Some(Container::Mp4)),
            (&asf, Some(Container::Asf)),
            (b"\xff\xfb\x90\x64", None),
            (b"", None),
            (b"fLa", None),
        ];
        for &(head, want) in cases {
            assert_eq!(container(head), want, "{head:?}");
        }
    }

    #[test]
    fn duration_and_bitrate_are_measured() {
        let properties = Properties {
            codec: Codec::Mp3,
            duration: seconds(132_300, 44_100),
            audio_bytes: 48_000,
            sample_rate: 44_100,
            channels: 2,
            bits_per_sample: None,
        };
        assert_eq!(properties.duration, Some(3.0));
        assert_eq!(properties.bitrate(), Some(128_000));
        let unknown = Properties { duration: None, ..properties };
        assert_eq!(unknown.bitrate(), None);
        let empty = Properties { duration: Some(0.0), ..properties };
        assert_eq!(empty.bitrate(), None);
        assert_eq!(seconds(1, 0), None);
    }

    #[test]
    fn lossy_codecs_have_no_bit_depth() {
        let lossy = [Codec::Mp3, Codec::Aac, Codec::Vorbis, Codec::Opus, Codec::Wma];
        let lossless = [Codec::Flac, Codec::Pcm, Codec::Alac, Codec::WavPack];
        assert!(lossy.iter().all(|codec| codec.is_lossy()));
        assert!(lossless.iter().all(|codec| !codec.is_lossy()));
    }
}
