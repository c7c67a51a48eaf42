//! Decoder processes: `wvunpack` or `ffmpeg` on a file of the guest's, their output
//! read as a stream that skips to the first byte asked for.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{ChildStdout, Command};

use super::probe::{spawn_error, tool};
use crate::imports::bindings::tapedeck::server::transcode::{
    Codec, PcmFormat, PcmSpan, TranscodeError,
};
use crate::imports::decoders::{DecoderPermit, Transcoder, reopen_file};
use crate::io::confine::{Reaped, confine};

/// What a transcode's decoders run on.
pub(super) struct Source {
    pub(super) file: File,
    pub(super) codec: Codec,
    pub(super) format: PcmFormat,
    pub(super) transcoder: Arc<Transcoder>,
}

impl Source {
    /// The decoder whose next bytes are `span`'s: `idle` carried on where it can be,
    /// else a new one. A lossy decoder's output depends on where it starts, so WMA is
    /// always decoded from the start and skipped forward: every range is then the same
    /// slice of the one full decode, and the spans of a request, which come in
    /// ascending order, cost one decode together however many ranges it names.
    pub(super) fn decoder_for(
        &self,
        span: PcmSpan,
        idle: Option<DecoderOutput>,
    ) -> Result<DecoderOutput, TranscodeError> {
        let target = span.first_frame * self.block_align() + span.skip;
        if let Some(mut decoder) = idle {
            let at = decoder.next + decoder.skip;
            if at == target || (self.codec == Codec::Wma && at < target) {
                decoder.skip = target - decoder.next;
                return Ok(decoder);
            }
        }
        self.start(span)
    }

    /// Starts a decoder whose output is the bytes of `span`.
    pub(super) fn start(&self, span: PcmSpan) -> Result<DecoderOutput, TranscodeError> {
        let input = reopen_file(&self.file).map_err(|error| {
            tracing::error!(%error, "failed to reopen a file to decode");
            TranscodeError::Corrupt("the file could not be reopened".into())
        })?;
        let permit = self.transcoder.permit()?;
        let name = tool(self.codec, false);
        let mut command = Command::new(name);
        let first_frame = match self.codec {
            // WavPack seeks exactly to a frame.
            Codec::Wavpack => {
                command.args(["-q", "-r", "-y"]);
                command.arg(format!("--skip={}", span.first_frame));
                command.arg(format!("--until=+{}", span.frame_count));
                command.args(["-", "-o", "-"]);
                span.first_frame
            }
            // The container is forced: ffmpeg would otherwise guess it from the
            // content, and a playlist or manifest format opens the files it names.
            Codec::Wma => {
                command.args(["-nostdin", "-v", "error", "-threads", "1"]);
                command.args(["-f", "asf", "-protocol_whitelist", "pipe", "-i", "pipe:0"]);
                command.args(["-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le"]);
                command.args(["-ac", &self.format.channels.to_string()]);
                command.args(["-ar", &self.format.sample_rate.to_string(), "pipe:1"]);
                0
            }
        };
        confine(&mut command);
        let mut child = command
            .stdin(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| spawn_error(name, error))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let next = first_frame * self.block_align();
        let skip = span.first_frame * self.block_align() + span.skip - next;
        Ok(DecoderOutput { stdout, next, skip, _child: Reaped::new(child), _permit: permit })
    }

    fn block_align(&self) -> u64 {
        u64::from(self.format.channels) * u64::from(self.format.bits_per_sample / 8)
    }
}

/// A decoder's stdout. Dropping it kills and reaps the decoder, so the process
/// lives exactly as long as the guest's stream.
pub(super) struct DecoderOutput {
    stdout: ChildStdout,
    /// Where the next byte read from the decoder is in its file's whole decode.
    next: u64,
    /// Bytes still to discard before the first one the guest asked for.
    skip: u64,
    _child: Reaped,
    _permit: DecoderPermit,
}

impl AsyncRead for DecoderOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut self.stdout).poll_read(cx, buf))?;
            let got = (buf.filled().len() - before) as u64;
            self.next += got;
            if self.skip == 0 || got == 0 {
                return Poll::Ready(Ok(()));
            }
            let dropped = got.min(self.skip);
            self.skip -= dropped;
            let filled = buf.filled_mut();
            filled.copy_within(before + dropped as usize.., before);
            buf.set_filled(before + (got - dropped) as usize);
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}
