//! `/hls/…`: playlists and initialization segments written here, media segments of packets the
//! host's `hls` import encodes, each a representation with ranges and validators.

use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::IncomingRequest;

use super::bindings::tapedeck::server::hls as host;
use super::{Source, decided_by_preconditions, modified, open, reply};
use crate::hls::{self, Rendition, Target};
use crate::path::PathError;
use crate::reply::{Chunk, Method, Reply, Status};
use crate::respond::Representation;
use crate::transcode::{self, Piece, TranscodeError};
use crate::{etag, fmp4, mp3, path};

/// A media segment: the header written here, then the packets the host keeps.
pub(super) struct EncodedSegment {
    header: Vec<u8>,
}

impl EncodedSegment {
    /// Hands the host `chunks` as the body: bytes of the header, spans of the packets.
    pub(super) fn send(&self, chunks: Vec<Chunk>) {
        let header_len = self.header.len() as u64;
        let pieces: Vec<host::Chunk> = transcode::body(chunks, |start, len| {
            let end = start + len;
            let literal =
                self.header[start.min(header_len) as usize..end.min(header_len) as usize].to_vec();
            let packets = (end > header_len).then(|| {
                let offset = start.max(header_len) - header_len;
                host::Span { offset, length: end - header_len - offset }
            });
            (literal, packets)
        });
        host::send(&pieces);
    }
}

impl From<Piece<host::Span>> for host::Chunk {
    fn from(piece: Piece<host::Span>) -> Self {
        match piece {
            Piece::Literal(bytes) => Self::Literal(bytes),
            Piece::Made(span) => Self::Packets(span),
        }
    }
}

/// `/hls/<path>/…`: a playlist, an initialization segment or a media segment of `<path>`.
pub(super) fn hls(
    request: &IncomingRequest,
    method: Method,
    raw: &str,
    query: Option<&str>,
) -> Result<(Reply, Source), Reply> {
    let relative = path::resolve(raw)?;
    let (file_path, target) = hls::target(&relative)?;
    let container = mp3::container(file_path).ok_or(PathError::NotFound)?.into();
    let (file, stat) = open(file_path)?;
    let probed = host::probe(&file, container).map_err(TranscodeError::from)?;
    let renditions = hls::renditions(&hls::Source {
        rate: probed.sample_rate,
        samples: probed.samples,
        channels: probed.channels,
        bits: probed.bits,
        lossless: probed.lossless,
        max_bitrate: probed.max_bitrate,
    });
    if renditions.is_empty() {
        return Err(Reply::error(Status::UnprocessableContent, "The file has no audio"));
    }
    let query = hls::token_query(query);
    let (secs, nanos) = modified(&stat);
    let file_tag = etag::strong(stat.size, secs, nanos);
    let literal = |name: &str, content_type: &str, profile: &str, bytes: Vec<u8>| {
        let representation = Representation {
            file_name: name,
            content_type,
            len: bytes.len() as u64,
            modified_secs: secs,
            etag: &etag::variant(&file_tag, profile),
        };
        (reply(request, method, &representation), Source::Bytes(bytes))
    };
    Ok(match target {
        Target::Multivariant => {
            // The tenant's cap decides which renditions are listed.
            let cap = itoa::Buffer::new().format(probed.max_bitrate).to_owned();
            let playlist = hls::multivariant(&renditions, &query);
            literal("index.m3u8", hls::PLAYLIST_TYPE, &["hls-", &cap].concat(), playlist.into())
        }
        Target::Media(variant) => {
            let rendition = hls::find(&renditions, variant)?;
            let playlist = rendition.media_playlist(&query).into_bytes();
            let profile = ["hls-", &variant.name()].concat();
            literal("index.m3u8", hls::PLAYLIST_TYPE, &profile, playlist)
        }
        Target::Init(variant) => {
            let rendition = hls::find(&renditions, variant)?;
            let init = fmp4::init_segment(&rendition.track());
            let profile = ["hls-", &variant.name(), "-init"].concat();
            literal("init.mp4", hls::SEGMENT_TYPE, &profile, init)
        }
        Target::Segment(variant, index) => {
            let rendition = hls::find(&renditions, variant)?;
            let segment = rendition
                .segment(index)
                .ok_or_else(|| Reply::error(Status::NotFound, "No such segment"))?;
            let name = [itoa::Buffer::new().format(index), ".m4s"].concat();
            let profile = ["hls-", &variant.name(), "-", &name].concat();
            let mut representation = Representation {
                file_name: &name,
                content_type: hls::SEGMENT_TYPE,
                len: 0,
                modified_secs: secs,
                etag: &etag::variant(&file_tag, &profile),
            };
            // A client whose copy is current gets its 304 without an encode.
            if let Some(early) = decided_by_preconditions(request, method, &representation) {
                return Ok((early, Source::None));
            }
            let (header, len) = encode(&file, container, probed, rendition, index, &segment)?;
            representation.len = len;
            (reply(request, method, &representation), Source::Segment(EncodedSegment { header }))
        }
    })
}

/// Has the host encode `segment`, number `index` of `rendition`; its header and whole length.
fn encode(
    file: &Descriptor,
    container: host::Container,
    probed: host::Source,
    rendition: &Rendition,
    index: u64,
    segment: &hls::Segment,
) -> Result<(Vec<u8>, u64), Reply> {
    let codec = match rendition.variant {
        hls::Variant::Aac(kbps) => host::Codec::Aac(kbps),
        hls::Variant::Flac => host::Codec::Flac,
    };
    let request = host::Segment {
        codec,
        rate: rendition.rate,
        first: segment.first,
        samples: segment.samples,
        max_bytes: rendition.max_bytes(segment),
    };
    let sizes = host::encode(file, container, probed, request).map_err(TranscodeError::from)?;
    if sizes.len() as u64 != rendition.packets(segment) {
        return Err(Reply::server_error());
    }
    let header = rendition.segment_header(index, segment, &sizes);
    let payload: u64 = sizes.iter().map(|&size| u64::from(size)).sum();
    let len = header.len() as u64 + payload;
    Ok((header, len))
}
