//! `/stream/wav/…`: which decoder a file needs, what a failed decode answers, and the body of
//! a WAV transcode as the bytes the guest writes and the samples the host decodes.

use crate::reply::{Chunk, Reply, Status};
use crate::wav::{PcmFormat, PcmSlice};

/// Seconds a client should wait before retrying when all decoders are busy.
const BUSY_RETRY_AFTER: &str = "1";

/// How a file is encoded, which picks the host's decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// WavPack, `.wv`.
    Wavpack,
    /// Windows Media Audio, `.wma`.
    Wma,
}

/// The codec of the file at `relative`, by its extension (ASCII case-insensitive), or a 400 for
/// a file that no decoder takes.
pub fn codec(relative: &str) -> Result<Codec, Reply> {
    match relative.rsplit_once('.') {
        Some((_, extension)) if extension.eq_ignore_ascii_case("wv") => Ok(Codec::Wavpack),
        Some((_, extension)) if extension.eq_ignore_ascii_case("wma") => Ok(Codec::Wma),
        _ => Err(Reply::error(Status::BadRequest, "Not a WavPack or WMA file")),
    }
}

/// Why the host cannot decode a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscodeError {
    /// The decoder program is not installed; names the tool.
    MissingTool(String),
    /// All decoders are running.
    Busy,
    /// The decoder rejected the file; says why, without paths.
    Corrupt(String),
}

impl From<TranscodeError> for Reply {
    /// A missing or busy decoder is the server's condition (503); a busy one clears within a
    /// second or so, which `Retry-After` tells the client. A corrupt file is the request's (422).
    fn from(error: TranscodeError) -> Self {
        match error {
            TranscodeError::MissingTool(tool) => Self::error(
                Status::ServiceUnavailable,
                &format!("Transcoding needs {tool}, which is not installed"),
            ),
            TranscodeError::Busy => {
                Self::error(Status::ServiceUnavailable, "All decoders are busy, retry shortly")
                    .with_header("retry-after", BUSY_RETRY_AFTER.to_owned())
            }
            TranscodeError::Corrupt(reason) => Self::error(
                Status::UnprocessableContent,
                &format!("The file cannot be decoded: {reason}"),
            ),
        }
    }
}

/// The name a WAV transcode is offered under: `file_name` with `.wav` for its extension.
pub fn wav_file_name(file_name: &str) -> String {
    file_name_as(file_name, ".wav")
}

/// The name a transcode is offered under: `file_name` with `extension` (`.mp3`) for its own.
pub fn file_name_as(file_name: &str, extension: &str) -> String {
    let stem = file_name.rsplit_once('.').map_or("audio", |(stem, _)| stem);
    [stem, extension].concat()
}

/// A piece of a transcode's body, for the host's `transcode.send` (`S` a [`PcmSlice`]) or
/// `send-mp3` (`S` a [`crate::mp3::FrameSpan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<S = PcmSlice> {
    /// Bytes the guest wrote: WAV header bytes, an MP3 Info frame, multipart part headers.
    Literal(Vec<u8>),
    /// Bytes the host makes: decoded samples, encoded frames.
    Made(S),
}

/// The body `chunks` of a transcode, as [`crate::respond::serve`] lays it out, in pieces for
/// the host: `locate` maps each span to the bytes the guest writes (a WAV header, an MP3 Info
/// frame) and what the host makes of the rest ([`PcmFormat::locate`],
/// [`crate::mp3::Mp3Stream::locate`]). `T` is the caller's chunk type, so the pieces are
/// collected once.
///
/// The PCM slices come out in ascending frame order, whatever order the client's Range header
/// asks for: `serve` sends the ranges that [`crate::range::plan`] sorted and coalesced, in
/// order. Each slice starts at or after the last frame of the slice before it, and starts in
/// that same frame only when a frame is wider than the gap of more than 80 bytes that the
/// plan leaves between parts. So one decoder that only skips forward serves all the slices.
pub fn body<S, T: From<Piece<S>>>(
    chunks: Vec<Chunk>,
    locate: impl Fn(u64, u64) -> (Vec<u8>, Option<S>),
) -> Vec<T> {
    let mut pieces = Vec::with_capacity(chunks.len() * 2);
    for chunk in chunks {
        match chunk {
            Chunk::Literal(bytes) => pieces.push(Piece::Literal(bytes).into()),
            Chunk::Span { start, len } => {
                let (literal, made) = locate(start, len);
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(literal).into());
                }
                pieces.extend(made.map(|made| Piece::Made(made).into()));
            }
        }
    }
    pieces
}

/// [`body`] of a WAV transcode in `format`.
pub fn wav_body<T: From<Piece>>(format: &PcmFormat, chunks: Vec<Chunk>) -> Vec<T> {
    body(chunks, |start, len| {
        let source = format.locate(start, len);
        (source.header, source.pcm)
    })
}

#[cfg(test)]
mod tests {
    use super::{Codec, Piece, TranscodeError, codec, wav_body, wav_file_name};
    use crate::precondition::Conditionals;
    use crate::reply::{Body, Method, Reply, Status};
    use crate::respond::{Representation, serve};
    use crate::wav::{CD, MEDIA_TYPE, PcmSlice};

    #[rustfmt::skip]
    const CODECS: &[(&str, Result<Codec, Status>)] = &[
        ("song.wv", Ok(Codec::Wavpack)),
        ("song.wma", Ok(Codec::Wma)),
        ("SONG.WV", Ok(Codec::Wavpack)),
        ("Artist/Song.WmA", Ok(Codec::Wma)),
        ("a.b.wv", Ok(Codec::Wavpack)),
        ("song.mp3", Err(Status::BadRequest)),
        ("song.wav", Err(Status::BadRequest)),
        ("song.wv.mp3", Err(Status::BadRequest)),
        ("song.wvx", Err(Status::BadRequest)),
        ("wv", Err(Status::BadRequest)),
        ("song.", Err(Status::BadRequest)),
        ("Album.wv/song", Err(Status::BadRequest)),
    ];

    #[test]
    fn codec_by_extension() {
        for &(name, want) in CODECS {
            assert_eq!(codec(name).map_err(|reply| reply.status), want, "{name:?}");
        }
        let refused = Reply::error(Status::BadRequest, "Not a WavPack or WMA file");
        assert_eq!(codec("song.mp3"), Err(refused));
    }

    #[test]
    fn transcode_errors_map_to_statuses() {
        let missing = Reply::from(TranscodeError::MissingTool("wvunpack".to_owned()));
        let needs = "Transcoding needs wvunpack, which is not installed";
        assert_eq!(missing, Reply::error(Status::ServiceUnavailable, needs));
        let busy = Reply::from(TranscodeError::Busy);
        assert_eq!(busy.status, Status::ServiceUnavailable);
        assert_eq!(busy.header("retry-after"), Some("1"));
        let corrupt = Reply::from(TranscodeError::Corrupt("bad block".to_owned()));
        let cannot = "The file cannot be decoded: bad block";
        assert_eq!(corrupt, Reply::error(Status::UnprocessableContent, cannot));
        assert_eq!(corrupt.header("retry-after"), None);
    }

    #[test]
    fn wav_file_name_replaces_the_extension() {
        for (name, want) in [("song.wv", "song.wav"), ("a.b.WMA", "a.b.wav"), ("x", "audio.wav")] {
            assert_eq!(wav_file_name(name), want, "{name:?}");
        }
    }

    struct Case {
        name: &'static str,
        range: Option<&'static str>,
        /// (first frame, frame count, skip, len) of each PCM slice, in order.
        pcm: &'static [(u64, u64, u64, u64)],
    }

    #[rustfmt::skip]
    const BODIES: &[Case] = &[
        Case { name: "whole file", range: None, pcm: &[(0, 1000, 0, 4000)] },
        Case { name: "header only", range: Some("bytes=0-9"), pcm: &[] },
        Case { name: "seek mid frame", range: Some("bytes=445-"), pcm: &[(100, 900, 1, 3599)] },
        Case { name: "header and last frame", range: Some("bytes=-4,0-43"), pcm: &[(999, 1, 0, 4)] },
        Case {
            name: "unsorted ranges come out ascending",
            range: Some("bytes=3044-3143,444-543,2000-2001,1044-1143"),
            pcm: &[(100, 25, 0, 100), (250, 25, 0, 100), (489, 1, 0, 2), (750, 25, 0, 100)],
        },
    ];

    #[test]
    fn body_of_a_transcode_table() {
        let etag = r#""A""#;
        let len = CD.wav_len();
        let rep = Representation {
            file_name: "song.wav",
            content_type: MEDIA_TYPE,
            len,
            modified_secs: 0,
            etag,
        };
        for case in BODIES {
            let reply = serve(Method::Get, &Conditionals::NONE, case.range, &rep);
            let content_length = reply.header("content-length").map(str::to_owned);
            let Body::Representation(chunks) = reply.body else { panic!("{}", case.name) };
            let pieces: Vec<Piece> = wav_body(&CD, chunks);
            let mut sent = 0;
            let mut pcm = Vec::new();
            for piece in pieces {
                match piece {
                    Piece::Literal(bytes) => sent += bytes.len() as u64,
                    Piece::Made(PcmSlice { first_frame, frame_count, skip, len }) => {
                        sent += len;
                        pcm.push((first_frame, frame_count, skip, len));
                    }
                }
            }
            assert_eq!(pcm, case.pcm, "{}", case.name);
            assert_eq!(content_length, Some(sent.to_string()), "{}", case.name);
        }
    }
}
