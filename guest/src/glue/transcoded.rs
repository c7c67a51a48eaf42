//! `/stream/wav/…`: WavPack and WMA decoded by the host's `transcode` import and
//! sent as WAV, with ranges mapped to sample frames.

use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::IncomingRequest;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::tapedeck::server::transcode::{self, Codec, TranscodeError};
use super::{MAX_BLOCKING_WRITE, Source, file_name, modified, open, reply, write_all};
use crate::respond::{self, Chunk, Method, Reply, Representation};
use crate::wav::{PcmFormat, PcmSlice};
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
    /// Starts a decoder covering `slice`.
    pub(super) fn start(&self, slice: PcmSlice) -> Result<InputStream, TranscodeError> {
        transcode::decode(&self.file, self.codec, self.probed, slice.first_frame, slice.frame_count)
    }

    /// The slice of samples the first span of `chunks` needs, if any.
    pub(super) fn first_slice(&self, chunks: &[Chunk]) -> Option<PcmSlice> {
        chunks.iter().find_map(|chunk| match chunk {
            Chunk::Span { start, len } => self.wav.locate(*start, *len).pcm,
            Chunk::Literal(_) => None,
        })
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

/// Writes a transcode's body: header bytes as they are, sample bytes spliced from a
/// decoder started at the right frame (`first` is already started for the first).
pub(super) fn write_transcode(
    out: &OutputStream,
    chunks: &[Chunk],
    mut first: Option<InputStream>,
    decoding: &Decoding,
) -> Result<(), StreamError> {
    for chunk in chunks {
        let (start, len) = match chunk {
            Chunk::Literal(bytes) => {
                write_all(out, bytes)?;
                continue;
            }
            Chunk::Span { start, len } => (*start, *len),
        };
        let source = decoding.wav.locate(start, len);
        write_all(out, &source.header)?;
        let Some(slice) = source.pcm else { continue };
        let stream = match first.take() {
            Some(stream) => stream,
            None => decoding.start(slice).map_err(|_| StreamError::Closed)?,
        };
        splice_pcm(out, &stream, slice)?;
    }
    Ok(())
}

/// Copies `slice.len` bytes of decoded samples after dropping `slice.skip`. A decoder
/// that ends early (a container that overstated its length) is padded with silence,
/// so the body always matches its Content-Length.
fn splice_pcm(
    out: &OutputStream,
    stream: &InputStream,
    slice: PcmSlice,
) -> Result<(), StreamError> {
    let mut skip = slice.skip;
    while skip > 0 {
        match stream.blocking_read(skip) {
            Ok(bytes) => skip -= bytes.len() as u64,
            Err(StreamError::Closed) => break,
            Err(error) => return Err(error),
        }
    }
    let mut left = slice.len;
    while left > 0 {
        match out.blocking_splice(stream, left) {
            Ok(moved) => left -= moved,
            Err(StreamError::Closed) => break,
            Err(error) => return Err(error),
        }
    }
    let silence = vec![0u8; MAX_BLOCKING_WRITE];
    while left > 0 {
        let piece = left.min(MAX_BLOCKING_WRITE as u64) as usize;
        out.blocking_write_and_flush(&silence[..piece])?;
        left -= piece as u64;
    }
    Ok(())
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
