//! `/stream/mp3/…`: any library file encoded by the host's `mp3` import, with ranges mapped
//! to frames and the Info frame written here.

use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::IncomingRequest;

use super::bindings::tapedeck::server::mp3 as host;
use super::{Source, modified, open, reply};
use crate::mp3::{self, Container, FrameSpan, Mp3Stream};
use crate::path::PathError;
use crate::reply::{Chunk, Method, Reply};
use crate::respond::Representation;
use crate::transcode::{self, Piece, TranscodeError};
use crate::{etag, path};

/// A file the host encodes, as its probe found it.
pub(super) struct Encoding {
    file: Descriptor,
    container: host::Container,
    probed: host::Mp3Stream,
    stream: Mp3Stream,
}

impl Encoding {
    /// Hands the host `chunks` as the body: the Info frame's bytes and spans of frames.
    pub(super) fn send(&self, chunks: Vec<Chunk>) -> Result<(), Reply> {
        let pieces: Vec<host::Chunk> =
            transcode::body(chunks, |start, len| self.stream.locate(start, len));
        host::send(&self.file, self.container, self.probed, &pieces)
            .map_err(|error| TranscodeError::from(error).into())
    }
}

/// `/stream/mp3/<path>?bitrate=K`: the file as constant-bitrate MP3.
pub(super) fn encoded(
    request: &IncomingRequest,
    method: Method,
    raw: &str,
    query: Option<&str>,
) -> Result<(Reply, Source), Reply> {
    let bitrate = mp3::requested_bitrate(query)?;
    let relative = path::resolve(raw)?;
    let container = mp3::container(&relative).ok_or(PathError::NotFound)?.into();
    let (file, stat) = open(&relative)?;
    let probed = host::probe(&file, container, bitrate).map_err(TranscodeError::from)?;
    let stream =
        Mp3Stream { samples: probed.samples, channels: probed.channels, bitrate: probed.bitrate };
    let (secs, nanos) = modified(&stat);
    let profile = ["mp3-", &stream.bitrate.to_string()].concat();
    let etag = etag::variant(&etag::strong(stat.size, secs, nanos), &profile);
    let representation = Representation {
        file_name: &transcode::file_name_as(path::file_name(&relative), ".mp3"),
        content_type: mp3::MEDIA_TYPE,
        len: stream.len(),
        modified_secs: secs,
        etag: &etag,
    };
    let encoding = Encoding { file, container, probed, stream };
    Ok((reply(request, method, &representation), Source::Mp3(encoding)))
}

impl From<Container> for host::Container {
    fn from(container: Container) -> Self {
        match container {
            Container::Mp3 => Self::Mp3,
            Container::Flac => Self::Flac,
            Container::Wav => Self::Wav,
            Container::Mp4 => Self::Mp4,
            Container::Ogg => Self::Ogg,
            Container::Asf => Self::Asf,
            Container::Wavpack => Self::Wavpack,
        }
    }
}

impl From<Piece<FrameSpan>> for host::Chunk {
    fn from(piece: Piece<FrameSpan>) -> Self {
        match piece {
            Piece::Literal(bytes) => Self::Literal(bytes),
            Piece::Made(span) => Self::Frames(host::FrameSpan {
                first_frame: span.first_frame,
                skip: span.skip,
                length: span.len,
            }),
        }
    }
}
