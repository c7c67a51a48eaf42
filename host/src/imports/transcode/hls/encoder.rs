//! A segment's packets: one confined `ffmpeg` decodes the segment's window of the file, from
//! the whole second before it (or from the file's start where seeks are not exact), and
//! encodes it; the segment's packets are taken from its output. A window's samples depend only
//! on the file and the window, so a segment's bytes are the same whichever request makes them.

use std::fs::File;
use std::process::Stdio;

use super::{flac, packets};
use crate::imports::bindings::tapedeck::server::hls::{Codec, Segment, Source};
use crate::imports::bindings::tapedeck::server::mp3::Container;
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::decoders::Transcoder;
use crate::imports::transcode::demux::{SETTLE_SECS, ffmpeg_from, seeks_exactly};
use crate::imports::transcode::probe::spawn_error;
use crate::io::confine::confine;

/// Samples in an AAC-LC packet.
const AAC_PACKET: u64 = 1024;
/// Samples in a FLAC frame.
const FLAC_BLOCK: u64 = 4096;
/// AAC packets encoded before a segment and dropped, so the encoder's state (MDCT overlap,
/// psychoacoustic and rate-control history) is the source's at the segment's first packet.
const PRE_ROLL_PACKETS: u64 = 8;
/// AAC packets of source after a segment, so its last packets are not the encoder's flush.
const POST_ROLL_PACKETS: u64 = 2;
/// The packets ffmpeg's AAC encoder puts before the first input sample: its priming.
const AAC_PRIMING_PACKETS: u64 = 1;
/// Bitrates tried for an AAC segment that would pass its byte budget, in percent of the
/// nominal: a segment the encoder's rate control overshoots is made again, smaller.
const AAC_RETRIES_PERCENT: [u64; 4] = [100, 90, 75, 50];

/// The part of the source an encoder is fed, at the segment's rate.
struct Window {
    /// The first sample.
    start: u64,
    /// Samples fed: the source's, then silence past its end.
    samples: u64,
    /// Where the source ends.
    total: u64,
}

/// The packets of `segment` of `file`, each a separate buffer, within `segment.max_bytes`.
pub(super) async fn encode(
    file: File,
    container: Container,
    source: &Source,
    segment: &Segment,
    transcoder: &Transcoder,
) -> Result<Vec<Vec<u8>>, TranscodeError> {
    let total = (u128::from(source.samples) * u128::from(segment.rate)
        / u128::from(source.sample_rate)) as u64;
    let _permit = transcoder.permit()?;
    match segment.codec {
        Codec::Aac(kbps) => {
            // The first segment starts with the source, as an encode of the whole file would.
            let start = segment.first.saturating_sub(PRE_ROLL_PACKETS * AAC_PACKET);
            let end = segment.first + segment.samples + POST_ROLL_PACKETS * AAC_PACKET;
            let window = Window { start, samples: end - start, total: total.max(1) };
            let skip = AAC_PRIMING_PACKETS + (segment.first - start) / AAC_PACKET;
            let count = segment.samples.div_ceil(AAC_PACKET);
            for percent in AAC_RETRIES_PERCENT {
                let bitrate = u64::from(kbps) * percent / 100;
                let codec = ["-c:a", "aac", "-b:a", &format!("{bitrate}k"), "-f", "adts"];
                let output = run(&file, container, source, segment.rate, &window, &codec).await?;
                let packets = packets::adts(&output).ok_or_else(|| malformed("ADTS"))?;
                let packets = packets
                    .get(skip as usize..(skip + count) as usize)
                    .ok_or_else(|| malformed("too few AAC packets"))?;
                let bytes: u64 = packets.iter().map(|packet| packet.len() as u64).sum();
                if bytes <= segment.max_bytes {
                    return Ok(packets.iter().map(|packet| packet.to_vec()).collect());
                }
                tracing::debug!(bitrate, bytes, budget = segment.max_bytes, "AAC over budget");
            }
            Err(malformed("AAC over its budget at every bitrate tried"))
        }
        Codec::Flac => {
            let window = Window { start: segment.first, samples: segment.samples, total };
            let block = FLAC_BLOCK.to_string();
            let depth = if source.bits > 16 { ["s32", "24"] } else { ["s16", "16"] };
            let codec = ["-c:a", "flac", "-frame_size", &block, "-sample_fmt", depth[0]];
            let codec = [&codec[..], &["-bits_per_raw_sample", depth[1], "-f", "ogg"]].concat();
            let output = run(&file, container, source, segment.rate, &window, &codec).await?;
            let frames = packets::ogg_flac(&output).ok_or_else(|| malformed("Ogg"))?;
            if frames.len() as u64 != segment.samples.div_ceil(FLAC_BLOCK) {
                return Err(malformed("FLAC frames"));
            }
            // The encoder numbered this segment's frames from 0: number them in the stream.
            let first = segment.first / FLAC_BLOCK;
            let frames: Option<Vec<Vec<u8>>> = frames
                .iter()
                .zip(first..)
                .map(|(frame, number)| flac::renumber(frame, number))
                .collect();
            let frames = frames.ok_or_else(|| malformed("FLAC frame header"))?;
            let bytes: u64 = frames.iter().map(|frame| frame.len() as u64).sum();
            if bytes > segment.max_bytes {
                return Err(malformed("FLAC frames over their budget"));
            }
            Ok(frames)
        }
    }
}

/// Runs the confined `ffmpeg` that decodes `window` of `file` at `rate` and encodes it with
/// `codec` (its output options), and returns what it wrote. ffmpeg seeks to a whole second,
/// where its output starts at an exact sample; the samples up to the window are dropped there.
async fn run(
    file: &File,
    container: Container,
    source: &Source,
    rate: u32,
    window: &Window,
    codec: &[&str],
) -> Result<Vec<u8>, TranscodeError> {
    let rate_64 = u64::from(rate);
    let seek_secs = if seeks_exactly(container) {
        (window.start / rate_64).saturating_sub(SETTLE_SECS)
    } else {
        0
    };
    let from = window.start - seek_secs * rate_64;
    let to =
        (window.start + window.samples).min(window.total).max(window.start) - seek_secs * rate_64;
    let filters = format!(
        "aresample={rate},atrim=start_sample={from}:end_sample={to},apad=whole_len={}",
        window.samples
    );
    let mut command = ffmpeg_from(container, seek_secs);
    command.args(["-map", "0:a:0", "-af", &filters, "-ac", &source.channels.to_string()]);
    command.args(codec).arg("pipe:1");
    confine(&mut command);
    let input = crate::imports::decoders::reopen_file(file)
        .map_err(|error| spawn_error("ffmpeg", error))?;
    let output = command
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| spawn_error("ffmpeg", error))?;
    if !output.status.success() {
        tracing::warn!(status = %output.status, "HLS segment encoder failed");
        return Err(TranscodeError::Corrupt("ffmpeg cannot read this file".into()));
    }
    Ok(output.stdout)
}

/// The error of encoder output that is not what was asked: logged, and told without detail.
fn malformed(what: &'static str) -> TranscodeError {
    tracing::warn!(what, "HLS encoder output refused");
    TranscodeError::Corrupt("the encoder failed".into())
}
