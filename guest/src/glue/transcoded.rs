//! `/stream/wav/…`: WavPack and WMA decoded by the host's `transcode` import and
//! sent as WAV, with ranges mapped to sample frames.

use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::IncomingRequest;

use super::tapedeck::server::transcode::{self, Codec, PcmSpan, TranscodeError};
use super::{Source, file_name, modified, open, reply};
use crate::respond::{self, Chunk, Method, Reply, Representation};
use crate::wav::PcmFormat;
use crate::{etag, path};

/// Seconds a client should wait before retrying when all decoders are busy.
const BUSY_RETRY_AFTER: &str = "1";

/// A file the host decodes for a transcode, in the format its probe found.
pub(super) struct Decoding {
    file: Descriptor,
    codec: Codec,
    probed: transcode::PcmFormat,
    wav: PcmFormat,
}

impl Decoding {
    /// Hands the host `chunks` as the body: the WAV bytes of each span become the
    /// header bytes it covers and the samples the host decodes.
    pub(super) fn send(&self, chunks: Vec<Chunk>) -> Result<(), TranscodeError> {
        let mut pieces = Vec::with_capacity(chunks.len() * 2);
        for chunk in chunks {
            let (start, len) = match chunk {
                Chunk::Literal(bytes) => {
                    pieces.push(transcode::Chunk::Literal(bytes));
                    continue;
                }
                Chunk::Span { start, len } => (start, len),
            };
            let source = self.wav.locate(start, len);
            pieces.push(transcode::Chunk::Literal(source.header));
            pieces.extend(source.pcm.map(|slice| {
                transcode::Chunk::Pcm(PcmSpan {
                    first_frame: slice.first_frame,
                    frame_count: slice.frame_count,
                    skip: slice.skip,
                    length: slice.len,
                })
            }));
        }
        transcode::send(&self.file, self.codec, self.probed, &pieces)
    }
}

/// `/stream/wav/<path>`: a WavPack or WMA file decoded by the host, as WAV.
pub(super) fn transcoded(
    request: &IncomingRequest,
    method: Method,
    raw: &str,
) -> Result<(Reply, Source), Reply> {
    let relative = path::resolve(raw).map_err(|e| respond::error(e.status(), e.message()))?;
    let codec = codec(&relative).ok_or_else(|| respond::error(400, "Not a WavPack or WMA file"))?;
    let (file, stat) = open(&relative)?;
    let probed = transcode::probe(&file, codec).map_err(transcode_error)?;
    let format = PcmFormat::from(probed);
    let (secs, nanos) = modified(&stat);
    let etag = etag::variant(&etag::strong(stat.size, secs, nanos), "wav");
    let stem = file_name(&relative).rsplit_once('.').map_or("audio", |(stem, _)| stem);
    let representation = Representation {
        file_name: &format!("{stem}.wav"),
        content_type: "audio/wav",
        len: format.wav_len(),
        modified_secs: secs,
        etag: &etag,
    };
    let decoding = Decoding { file, codec, probed, wav: format };
    Ok((reply(request, method, &representation), Source::Transcode(decoding)))
}

fn codec(relative: &str) -> Option<Codec> {
    let (_, extension) = relative.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "wv" => Some(Codec::Wavpack),
        "wma" => Some(Codec::Wma),
        _ => None,
    }
}

pub(super) fn transcode_error(error: TranscodeError) -> Reply {
    match error {
        TranscodeError::MissingTool(tool) => {
            respond::error(503, &format!("Transcoding needs {tool}, which is not installed"))
        }
        TranscodeError::Busy => {
            let mut reply = respond::error(503, "All decoders are busy, retry shortly");
            reply.headers.push(("retry-after", BUSY_RETRY_AFTER.to_owned()));
            reply
        }
        TranscodeError::Corrupt(reason) => {
            respond::error(422, &format!("The file cannot be decoded: {reason}"))
        }
    }
}

impl From<transcode::PcmFormat> for PcmFormat {
    fn from(format: transcode::PcmFormat) -> Self {
        Self {
            sample_rate: format.sample_rate,
            channels: format.channels,
            bits_per_sample: format.bits_per_sample,
            float: format.float,
            total_frames: format.total_frames,
        }
    }
}
