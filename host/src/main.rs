//! `tapedeck`: serves a music library over HTTP through a sandboxed guest component.

mod bindings;
mod file_body;
mod pacing;
mod response;
mod sandbox;
mod server;
mod transcode;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// The guest component built from `guest/` by the build script.
const EMBEDDED_GUEST: &[u8] = include_bytes!(env!("TAPEDECK_GUEST_WASM"));

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MUSIC_DIR over HTTP.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The music library; the guest sees it read-only and nothing else.
    #[arg(long, env = "MUSIC_DIR", default_value = "demo")]
    music_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TAPEDECK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A guest component (`.wasm`) to run instead of the embedded one.
    #[arg(long)]
    guest: Option<PathBuf>,
    /// Decoder processes (`wvunpack`, `ffmpeg`) allowed at once; past it, 503.
    #[arg(long, env = "TAPEDECK_MAX_DECODERS", default_value_t = transcode::DEFAULT_MAX_DECODERS)]
    max_decoders: usize,
    /// Seconds a request may run, streaming included, before it is cut off.
    #[arg(long, env = "TAPEDECK_REQUEST_TIMEOUT", default_value_t = 3600)]
    request_timeout: u64,
}

fn main() -> Result<()> {
    let Command::Serve(args) = Cli::parse().command;
    init_logging();
    let runtime = tokio::runtime::Runtime::new().context("failed to start the tokio runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<()> {
    if !args.music_dir.is_dir() {
        bail!(
            "music dir `{}` is not a directory: pass --music-dir or set MUSIC_DIR",
            args.music_dir.display()
        );
    }
    let music_dir = args
        .music_dir
        .canonicalize()
        .with_context(|| format!("failed to resolve music dir `{}`", args.music_dir.display()))?;
    let guest = match &args.guest {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("failed to read guest `{}`", path.display()))?,
        None => EMBEDDED_GUEST.to_vec(),
    };
    let transcoder = transcode::Transcoder::new(args.max_decoders);
    let timeout = Duration::from_secs(args.request_timeout);
    let sandbox = sandbox::Sandbox::new(&guest, music_dir, transcoder, timeout)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on `{}`", args.listen))?;
    server::run(listener, sandbox).await
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
