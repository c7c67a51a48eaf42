//! The encoder of one block: a confined `ffmpeg` (libmp3lame) fed PCM on stdin, its frames
//! checked one by one, and silent frames for any it does not give.

use tokio::process::Command;

use super::format::BITRATES;
use crate::imports::bindings::tapedeck::server::mp3::Mp3Stream;
use crate::imports::transcode::filter;

/// Bytes in every frame of `stream`: 144 × bit/s ÷ 48000, whole at 48 kHz, so no padding.
pub(super) fn frame_len(stream: &Mp3Stream) -> usize {
    3 * stream.bitrate as usize
}

/// The header every frame of `stream` starts with (as `guest/src/mp3.rs` writes it): MPEG-1
/// Layer III without CRC, the bitrate's index, 48 kHz, no padding, then the channel mode in
/// the top two bits of the last byte (joint stereo `01`, mono `11`), whose other bits the
/// encoder may set per frame.
pub(super) fn frame_header(stream: &Mp3Stream) -> [u8; 4] {
    let index = BITRATES.iter().position(|&kbps| kbps == stream.bitrate).map_or(0, |i| i + 1);
    let mode: u8 = if stream.channels == 1 { 0b11 } else { 0b01 };
    [0xFF, 0xFB, (index as u8) << 4 | 0b01 << 2, mode << 6 | 0b100]
}

/// Whether `frame` is one of `stream`'s: the header fields that fix its size and layout.
fn is_frame_of(frame: &[u8], header: &[u8; 4]) -> bool {
    frame.len() >= 4 && frame[..3] == header[..3] && frame[3] & 0xC0 == header[3] & 0xC0
}

/// A frame that decodes to silence: the header, then zero side information (no Huffman
/// data, gain 0) and zero bytes. The same bytes every time, so padding is deterministic.
pub(super) fn silent_frame(stream: &Mp3Stream) -> Vec<u8> {
    let mut frame = vec![0; frame_len(stream)];
    frame[..4].copy_from_slice(&frame_header(stream));
    frame
}

/// Encodes `pcm` (s16le, 48 kHz, `stream.channels`) and returns output frames `skip..skip +
/// count`: each checked, and a silent frame for any missing or malformed one.
pub(super) async fn encode(
    pcm: &[u8],
    stream: &Mp3Stream,
    skip: usize,
    count: usize,
) -> std::io::Result<Vec<u8>> {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-threads", "1"]);
    command.args(["-f", "s16le", "-ar", "48000", "-ac", &stream.channels.to_string()]);
    command.args(["-protocol_whitelist", "pipe", "-i", "pipe:0"]);
    // No bit reservoir: each frame's data starts in itself, so frames of separate runs can
    // follow one another. No Xing frame or ID3 tag: the guest writes the first frame.
    command.args(["-c:a", "libmp3lame", "-b:a", &format!("{}k", stream.bitrate)]);
    command.args(["-reservoir", "0", "-write_xing", "0", "-id3v2_version", "0"]);
    command.args(["-f", "mp3", "pipe:1"]);
    let output = filter::run(command, pcm, (skip + count + 2) * frame_len(stream)).await?;
    Ok(frames(&output, stream, skip, count))
}

/// Frames `skip..skip + count` of an encoder's `output`, each checked.
fn frames(output: &[u8], stream: &Mp3Stream, skip: usize, count: usize) -> Vec<u8> {
    let len = frame_len(stream);
    let header = frame_header(stream);
    let mut frames = Vec::with_capacity(count * len);
    let mut padded = 0;
    for index in skip..skip + count {
        match output.get(index * len..(index + 1) * len) {
            Some(frame) if is_frame_of(frame, &header) => frames.extend_from_slice(frame),
            _ => {
                padded += 1;
                frames.extend(silent_frame(stream));
            }
        }
    }
    if padded > 0 {
        tracing::warn!(padded, bytes = output.len(), "encoder gave fewer frames than its block");
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEREO_128: Mp3Stream = Mp3Stream { samples: 0, channels: 2, bitrate: 128 };

    #[test]
    fn headers_match_what_libmp3lame_writes() {
        // libmp3lame's frames at 48 kHz without reservoir began FF FB 94 64 (mid/side on)
        // in stereo at 128 kbit/s, and FF FB 54 C4 in mono at 64.
        assert_eq!(frame_header(&STEREO_128), [0xFF, 0xFB, 0x94, 0x44]);
        assert!(is_frame_of(&[0xFF, 0xFB, 0x94, 0x64], &frame_header(&STEREO_128)));
        let mono_64 = Mp3Stream { channels: 1, bitrate: 64, ..STEREO_128 };
        assert_eq!(frame_header(&mono_64), [0xFF, 0xFB, 0x54, 0xC4]);
    }

    #[test]
    fn frames_keeps_good_frames_and_pads_the_rest_with_silence() {
        let len = frame_len(&STEREO_128);
        let mut good = silent_frame(&STEREO_128);
        good[3] = 0x44; // another mode extension: still a frame of this stream
        good[100] = 7;
        let mut bad = good.clone();
        bad[2] = 0x95; // padding bit: a frame one byte longer
        let output = [good.clone(), good.clone(), bad, good.clone()].concat();
        let got = frames(&output, &STEREO_128, 1, 4);
        let silent = silent_frame(&STEREO_128);
        assert_eq!(got, [good.clone(), silent.clone(), good, silent].concat());
        assert_eq!(got.len(), 4 * len);
    }
}
