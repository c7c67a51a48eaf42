//! A segment's packets: its window decoded, then encoded by a confined `ffmpeg` that sees only
//! PCM, and the packets of the segment taken from the encoder's output.

use std::fs::File;
use std::io;

use tokio::process::Command;

use super::packets;
use super::window::{self, Depth, Window};
use crate::imports::bindings::tapedeck::server::hls::{Codec, Segment, Source};
use crate::imports::bindings::tapedeck::server::mp3::Container;
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::decoders::Transcoder;
use crate::imports::transcode::filter;

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
const AAC_PRIMING_PACKETS: usize = 1;
/// Bitrates tried for an AAC segment that would pass its byte budget, in percent of the
/// nominal: a segment the encoder's rate control overshoots is made again, smaller.
const AAC_RETRIES_PERCENT: [u64; 4] = [100, 90, 75, 50];

/// The packets of `segment` of `file`, each a separate buffer, within `segment.max_bytes`.
pub(super) async fn encode(
    file: File,
    container: Container,
    source: &Source,
    segment: &Segment,
    transcoder: &Transcoder,
) -> Result<Vec<Vec<u8>>, TranscodeError> {
    let (pre_roll, post_roll, depth) = match segment.codec {
        Codec::Aac(_) => {
            (PRE_ROLL_PACKETS * AAC_PACKET, POST_ROLL_PACKETS * AAC_PACKET, Depth::S16)
        }
        Codec::Flac if source.bits > 16 => (0, 0, Depth::S32),
        Codec::Flac => (0, 0, Depth::S16),
    };
    let total = (u128::from(source.samples) * u128::from(segment.rate)
        / u128::from(source.sample_rate)) as u64;
    let window = Window {
        start: segment.first as i64 - pre_roll as i64,
        samples: pre_roll + segment.samples + post_roll,
        rate: segment.rate,
        total: total.max(1),
        channels: source.channels,
        depth,
    };
    let pcm = {
        let _decoder = transcoder.permit()?;
        window::decode(file, container, &window).await.map_err(failed("decoder"))?
    };
    let _encoder = transcoder.permit()?;
    match segment.codec {
        Codec::Aac(kbps) => aac(&pcm, segment, source.channels, kbps).await,
        Codec::Flac => flac(&pcm, segment, source.channels, depth).await,
    }
}

/// The AAC packets of `segment` from `pcm` (its window: pre-roll, segment, post-roll), at the
/// first of [`AAC_RETRIES_PERCENT`] of `kbps` whose packets fit the segment's budget.
async fn aac(
    pcm: &[u8],
    segment: &Segment,
    channels: u8,
    kbps: u32,
) -> Result<Vec<Vec<u8>>, TranscodeError> {
    let count = segment.samples.div_ceil(AAC_PACKET) as usize;
    let skip = AAC_PRIMING_PACKETS + PRE_ROLL_PACKETS as usize;
    for percent in AAC_RETRIES_PERCENT {
        let bitrate = u64::from(kbps) * percent / 100;
        let mut command = encoder_command(segment.rate, channels, Depth::S16);
        command.args(["-c:a", "aac", "-b:a", &format!("{bitrate}k"), "-f", "adts", "pipe:1"]);
        let expected = (segment.max_bytes as usize).saturating_add(count * 16);
        let output = filter::run(command, pcm, expected).await.map_err(failed("encoder"))?;
        let packets = packets::adts(&output).ok_or_else(|| malformed("ADTS"))?;
        let packets =
            packets.get(skip..skip + count).ok_or_else(|| malformed("too few packets"))?;
        let bytes: u64 = packets.iter().map(|packet| packet.len() as u64).sum();
        if bytes <= segment.max_bytes {
            return Ok(packets.iter().map(|packet| packet.to_vec()).collect());
        }
        tracing::debug!(bitrate, bytes, budget = segment.max_bytes, "AAC segment over its budget");
    }
    Err(malformed("over its byte budget at every bitrate tried"))
}

/// The FLAC frames of `segment` from `pcm` (exactly its samples).
async fn flac(
    pcm: &[u8],
    segment: &Segment,
    channels: u8,
    depth: Depth,
) -> Result<Vec<Vec<u8>>, TranscodeError> {
    let count = segment.samples.div_ceil(FLAC_BLOCK) as usize;
    let mut command = encoder_command(segment.rate, channels, depth);
    command.args(["-c:a", "flac", "-frame_size", &FLAC_BLOCK.to_string()]);
    if depth == Depth::S32 {
        command.args(["-sample_fmt", "s32", "-bits_per_raw_sample", "24"]);
    }
    command.args(["-f", "ogg", "pipe:1"]);
    let output = filter::run(command, pcm, pcm.len() + 4096).await.map_err(failed("encoder"))?;
    let frames = packets::ogg_flac(&output).ok_or_else(|| malformed("Ogg"))?;
    let bytes: u64 = frames.iter().map(|frame| frame.len() as u64).sum();
    if frames.len() != count || bytes > segment.max_bytes {
        return Err(malformed("FLAC frames"));
    }
    Ok(frames)
}

/// An `ffmpeg` reading raw PCM of `rate`, `channels` and `depth` on stdin.
fn encoder_command(rate: u32, channels: u8, depth: Depth) -> Command {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-threads", "1", "-f", depth.raw()]);
    command.args(["-ar", &rate.to_string(), "-ac", &channels.to_string()]);
    command.args(["-protocol_whitelist", "pipe", "-i", "pipe:0"]);
    command
}

/// The error of a process that failed to run: a missing `ffmpeg` is named.
fn failed(role: &'static str) -> impl Fn(io::Error) -> TranscodeError {
    move |error| {
        if error.kind() == io::ErrorKind::NotFound {
            TranscodeError::MissingTool("ffmpeg".into())
        } else {
            tracing::warn!(role, %error, "HLS segment failed");
            TranscodeError::Corrupt(format!("the {role} failed"))
        }
    }
}

/// The error of encoder output that is not what was asked: logged, and told without detail.
fn malformed(what: &'static str) -> TranscodeError {
    tracing::warn!(what, "HLS encoder output refused");
    TranscodeError::Corrupt("the encoder failed".into())
}
