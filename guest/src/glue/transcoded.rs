//! `/stream/wav/…`: WavPack and WMA decoded by the host's `transcode` import and
//! sent as WAV, with ranges mapped to sample frames.

use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::IncomingRequest;

use super::bindings::tapedeck::server::transcode as host;
use super::{Source, modified, open, reply};
use crate::reply::{Chunk, Method, Reply};
use crate::respond::Representation;
use crate::transcode::{self, Codec, Piece, TranscodeError};
use crate::wav::{self, PcmFormat};
use crate::{etag, path};

/// A file the host decodes for a transcode, in the format its probe found.
pub(super) struct Decoding {
    file: Descriptor,
    codec: host::Codec,
    probed: host::PcmFormat,
    wav: PcmFormat,
}

impl Decoding {
    /// Hands the host `chunks` as the body; see [`transcode::body`] for what it gets.
    pub(super) fn send(&self, chunks: Vec<Chunk>) -> Result<(), Reply> {
        let pieces: Vec<host::Chunk> = transcode::wav_body(&self.wav, chunks);
        host::send(&self.file, self.codec, self.probed, &pieces)
            .map_err(|error| TranscodeError::from(error).into())
    }
}

/// `/stream/wav/<path>`: a WavPack or WMA file decoded by the host, as WAV.
pub(super) fn transcoded(
    request: &IncomingRequest,
    method: Method,
    raw: &str,
) -> Result<(Reply, Source), Reply> {
    let relative = path::resolve(raw)?;
    let codec = transcode::codec(&relative)?.into();
    let (file, stat) = open(&relative)?;
    let probed = host::probe(&file, codec).map_err(TranscodeError::from)?;
    let format = PcmFormat::from(probed);
    let (secs, nanos) = modified(&stat);
    let etag = etag::variant(&etag::strong(stat.size, secs, nanos), "wav");
    let representation = Representation {
        file_name: &transcode::wav_file_name(path::file_name(&relative)),
        content_type: wav::MEDIA_TYPE,
        len: format.wav_len(),
        modified_secs: secs,
        etag: &etag,
    };
    let decoding = Decoding { file, codec, probed, wav: format };
    Ok((reply(request, method, &representation), Source::Transcode(decoding)))
}

impl From<Codec> for host::Codec {
    fn from(codec: Codec) -> Self {
        match codec {
            Codec::Wavpack => Self::Wavpack,
            Codec::Wma => Self::Wma,
        }
    }
}

impl From<host::TranscodeError> for TranscodeError {
    fn from(error: host::TranscodeError) -> Self {
        match error {
            host::TranscodeError::MissingTool(tool) => Self::MissingTool(tool),
            host::TranscodeError::Busy => Self::Busy,
            host::TranscodeError::Corrupt(reason) => Self::Corrupt(reason),
        }
    }
}

impl From<Piece> for host::Chunk {
    fn from(piece: Piece) -> Self {
        match piece {
            Piece::Literal(bytes) => Self::Literal(bytes),
            Piece::Made(slice) => Self::Pcm(host::PcmSpan {
                first_frame: slice.first_frame,
                frame_count: slice.frame_count,
                skip: slice.skip,
                length: slice.len,
            }),
        }
    }
}

impl From<host::PcmFormat> for PcmFormat {
    fn from(format: host::PcmFormat) -> Self {
        Self {
            sample_rate: format.sample_rate,
            channels: format.channels,
            bits_per_sample: format.bits_per_sample,
            float: format.float,
            total_frames: format.total_frames,
        }
    }
}
