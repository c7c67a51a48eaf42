//! `tapedeck`: serves music libraries over HTTP through sandboxed guest components.

mod admin;
mod app;
mod bindings;
mod config;
mod engine;
mod file_body;
mod logging;
mod metrics;
mod response;
mod sandbox;
mod sendfile;
mod server;
mod tenants;
mod transcode;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{App, ConfigSource};
use crate::config::{Config, Limits, TenantConfig};
use crate::workers::Workers;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve music over HTTP: one library from the flags, or the tenants of `--config`.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML config of listeners and tenants (see the README); replaces the flags below.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The music library; the guest sees it read-only and nothing else.
    #[arg(long, env = "MUSIC_DIR", default_value = "demo")]
    music_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TAPEDECK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A guest component (`.wasm`) to run instead of the embedded one (re-read on SIGHUP).
    #[arg(long)]
    guest: Option<PathBuf>,
    /// Decoder processes (`wvunpack`, `ffmpeg`) allowed at once; past it, 503.
    #[arg(long, env = "TAPEDECK_MAX_DECODERS", default_value_t = Limits::default().max_decoders)]
    max_decoders: usize,
    /// Seconds a request may run, streaming included, before it is cut off.
    #[arg(long, env = "TAPEDECK_REQUEST_TIMEOUT", default_value_t = Limits::default().request_timeout_secs)]
    request_timeout: u64,
    /// Address of the admin listener (`/metrics`, `POST /admin/reload`); off by default.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Where compiled guests are cached (default: wasmtime's cache directory).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// The one-tenant config the plain flags describe.
    fn config(&self) -> Config {
        Config {
            listen: self.listen,
            admin_listen: self.admin_listen,
            cache_dir: self.cache_dir.clone(),
            shutdown_grace_secs: 10,
            tenants: vec![TenantConfig {
                name: "default".into(),
                hosts: Vec::new(),
                path_prefix: None,
                music_dir: self.music_dir.clone(),
                guest: self.guest.clone(),
                token: None,
                limits: Limits {
                    max_decoders: self.max_decoders,
                    request_timeout_secs: self.request_timeout,
                    ..Limits::default()
                },
            }],
        }
    }
}

/// Every request builds and drops a store, a guest's state and its header maps:
/// hundreds of small allocations, where mimalloc costs a fraction of glibc's. It is
/// built without transparent huge pages (`no_thp`), which cost 20 MiB of RSS at idle.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The flags a config file replaces; giving one on the command line beside
/// `--config` is an error. (Their env vars are not: a unit file may set them.)
const TENANT_FLAGS: &[&str] = &[
    "music_dir",
    "listen",
    "guest",
    "max_decoders",
    "request_timeout",
    "admin_listen",
    "cache_dir",
];

/// Task polls between a worker's checks for I/O events: tokio's default, 61, means
/// up to 61 guest time slices when guests spin; this keeps a busy neighbour's
/// latency to a few slices.
const EVENT_INTERVAL: u32 = 8;

fn main() -> Result<()> {
    let matches = Cli::command().get_matches();
    let Some(("serve", serve_matches)) = matches.subcommand() else {
        unreachable!("clap requires the subcommand")
    };
    if serve_matches.contains_id("config")
        && let Some(flag) = TENANT_FLAGS
            .iter()
            .find(|id| serve_matches.value_source(id) == Some(ValueSource::CommandLine))
    {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--{} cannot be used with --config", flag.replace('_', "-")),
            )
            .exit();
    }
    let Command::Serve(args) = Cli::from_arg_matches(&matches)?.command;
    let _flush_logs_at_exit = logging::init();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = Workers::start(cores, EVENT_INTERVAL)?;
    // The workers accept and serve connections; this thread runs the signal
    // handlers, reloads and the admin listener.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")?;
    let served = runtime.block_on(serve(args, &workers));
    workers.stop();
    served
}

async fn serve(args: ServeArgs, workers: &Workers) -> Result<()> {
    let (config, source) = match &args.config {
        Some(path) => (Config::load(path)?, ConfigSource::File(path.clone())),
        None => {
            let config = args.config();
            config.check().context("invalid command line")?;
            (config.clone(), ConfigSource::Flags(config))
        }
    };
    let engine = engine::new(config.cache_dir.as_deref())?;
    let app = App::new(engine, source, &config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on `{}`", config.listen))?;
    let admin = match config.admin_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("failed to listen on `{address}`"))?,
        ),
        None => None,
    };
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    server::run(app, listener, admin, workers, grace).await
}
