//! Which policy answers a request target: `/stream/wav/…` and `/stream/mp3/…` are
//! transcoded, `/stream/…` is sent as it is, `/hls/…` is HLS, anything else is not found.

use crate::reply::{Reply, Status};

/// URL prefix of files transcoded to WAV: checked before [`STREAM_PREFIX`], which it extends.
const WAV_PREFIX: &str = "/stream/wav/";
/// URL prefix of files transcoded to MP3: checked before [`STREAM_PREFIX`], which it extends.
const MP3_PREFIX: &str = "/stream/mp3/";
/// URL prefix of HLS playlists and segments.
const HLS_PREFIX: &str = "/hls/";
/// URL prefix of files sent as they are.
const STREAM_PREFIX: &str = "/stream/";

/// Where a request goes, with the still-encoded path after its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/stream/<path>`: the file's own bytes.
    Plain(&'a str),
    /// `/stream/wav/<path>`: a WavPack or WMA file decoded to WAV.
    Transcode(&'a str),
    /// `/stream/mp3/<path>?<query>`: any audio file as constant-bitrate MP3, with the query
    /// (its `bitrate`), if any.
    Mp3(&'a str, Option<&'a str>),
    /// `/hls/<path>/…?<query>`: HLS of an audio file, with the query (its `token`), if any.
    Hls(&'a str, Option<&'a str>),
}

/// The route of `target` (path and query as received), or a 404 for any other path. Only
/// `/stream/mp3/` and `/hls/` read the query.
pub fn route(target: &str) -> Result<Route<'_>, Reply> {
    let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
    if let Some(raw) = path.strip_prefix(MP3_PREFIX) {
        Ok(Route::Mp3(raw, query))
    } else if let Some(raw) = path.strip_prefix(WAV_PREFIX) {
        Ok(Route::Transcode(raw))
    } else if let Some(raw) = path.strip_prefix(STREAM_PREFIX) {
        Ok(Route::Plain(raw))
    } else if let Some(raw) = path.strip_prefix(HLS_PREFIX) {
        Ok(Route::Hls(raw, query))
    } else {
        Err(Reply::error(Status::NotFound, "Not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::Route::{Hls, Mp3, Plain, Transcode};
    use super::{Route, route};
    use crate::reply::{Reply, Status};

    #[rustfmt::skip]
    const CASES: &[(&str, Result<Route, Status>)] = &[
        ("/stream/song.mp3", Ok(Plain("song.mp3"))),
        ("/stream/Artist/01%20A.flac", Ok(Plain("Artist/01%20A.flac"))),
        ("/stream/wav/song.wv", Ok(Transcode("song.wv"))),
        ("/stream/wav/Artist/song.WMA", Ok(Transcode("Artist/song.WMA"))),
        ("/stream/song.mp3?t=1", Ok(Plain("song.mp3"))),
        ("/stream/wav/song.wv?x=/stream/", Ok(Transcode("song.wv"))),
        ("/stream/", Ok(Plain(""))),
        ("/stream/wav/", Ok(Transcode(""))),
        ("/stream/wav", Ok(Plain("wav"))),
        ("/stream/mp3/a/song.flac", Ok(Mp3("a/song.flac", None))),
        ("/stream/mp3/song.wv?bitrate=128", Ok(Mp3("song.wv", Some("bitrate=128")))),
        ("/stream/mp3/song.wv?", Ok(Mp3("song.wv", Some("")))),
        ("/stream/mp3", Ok(Plain("mp3"))),
        ("/stream/wavs/a.wv", Ok(Plain("wavs/a.wv"))),
        ("/stream//etc/passwd", Ok(Plain("/etc/passwd"))),
        ("/stream", Err(Status::NotFound)),
        ("/streamer/song.mp3", Err(Status::NotFound)),
        ("/Stream/song.mp3", Err(Status::NotFound)),
        ("/", Err(Status::NotFound)),
        ("", Err(Status::NotFound)),
        ("?/stream/song.mp3", Err(Status::NotFound)),
        ("/api/stream/song.mp3", Err(Status::NotFound)),
        ("/hls/a.flac/index.m3u8", Ok(Hls("a.flac/index.m3u8", None))),
        ("/hls/a.flac/aac-64/3.m4s?token=x", Ok(Hls("a.flac/aac-64/3.m4s", Some("token=x")))),
        ("/hls", Err(Status::NotFound)),
        ("/HLS/a.flac/index.m3u8", Err(Status::NotFound)),
    ];

    #[test]
    fn route_table() {
        for &(target, want) in CASES {
            assert_eq!(route(target).map_err(|reply| reply.status), want, "{target:?}");
        }
        assert_eq!(route("/"), Err(Reply::error(Status::NotFound, "Not found")));
    }
}
