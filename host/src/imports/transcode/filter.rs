//! A confined `ffmpeg` that turns bytes into other bytes: fed on stdin, read from stdout.

use std::io;
use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::io::confine::{Reaped, confine};

/// Runs `command` confined, writes `input` to its stdin while reading its stdout, and returns
/// what it wrote (with room reserved for `expected` bytes). The process is killed if this is
/// dropped first.
pub(super) async fn run(
    mut command: Command,
    input: &[u8],
    expected: usize,
) -> io::Result<Vec<u8>> {
    confine(&mut command);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let _child = Reaped::new(child);
    let write = async {
        stdin.write_all(input).await?;
        stdin.shutdown().await?;
        drop(stdin);
        Ok::<(), io::Error>(())
    };
    let mut output = Vec::with_capacity(expected);
    let (written, read) = tokio::join!(write, stdout.read_to_end(&mut output));
    written?;
    read?;
    Ok(output)
}
