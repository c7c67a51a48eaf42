//! `tapedeck`: serves music libraries over HTTP through sandboxed guest components.

mod config;
mod imports;
mod io;
mod logging;
mod metrics;
mod sandbox;
mod server;
mod tenants;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, Limits, TenantConfig};
use crate::io::workers::Workers;
use crate::sandbox::engine;
use crate::tenants::app::{App, ConfigSource};

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
    /// A token the admin listener requires as `Authorization: Bearer`.
    #[arg(long, env = "TAPEDECK_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Client connections open at once; past it, 503 and close.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// Seconds a response may wait on a client that reads nothing before it is cut.
    #[arg(long, default_value_t = 60)]
    send_timeout: u64,
    /// The uid decoder processes run as (default: the server's own).
    #[arg(long)]
    decoder_uid: Option<u32>,
    /// The gid decoder processes run as (with `--decoder-uid`).
    #[arg(long)]
    decoder_gid: Option<u32>,
}

impl ServeArgs {
    /// The one-tenant config the plain flags describe.
    fn config(&self) -> Config {
        Config {
            listen: self.listen,
            admin_listen: self.admin_listen,
            cache_dir: self.cache_dir.clone(),
            shutdown_grace_secs: 10,
            max_connections: self.max_connections,
            send_timeout_secs: self.send_timeout,
            admin_token: self.admin_token.clone(),
            decoder_uid: self.decoder_uid,
            decoder_gid: self.decoder_gid,
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
    "admin_token",
    "max_connections",
    "send_timeout",
    "decoder_uid",
    "decoder_gid",
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
    // Past the grace period nothing may keep the process alive: a worker stuck in a
    // system call (a hung mount) cannot be joined, so the process ends without it.
    // Decoders die with it (they are started with a parent-death signal).
    std::thread::spawn(|| {
        std::thread::sleep(HARD_EXIT_AFTER);
        tracing::warn!("workers did not stop; exiting without them");
        logging::flush();
        std::process::exit(0);
    });
    workers.stop();
    served
}

/// How long the workers get to stop once the grace period is over.
const HARD_EXIT_AFTER: Duration = Duration::from_secs(2);

/// Raises the soft limit on open files to the hard one: each connection holds a socket
/// and each stream a file, and the default soft limit (1024) would make `accept` fail
/// under a few hundred clients.
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum
        && let Err(error) = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum },
        )
    {
        tracing::warn!(%error, "could not raise the open-file limit");
    }
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
    raise_open_files_limit();
    let decoder_user = config
        .decoder_uid
        .map(|uid| io::confine::ChildUser { uid, gid: config.decoder_gid.unwrap_or(uid) });
    io::confine::init(decoder_user);
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
    let settings = server::Settings {
        grace: Duration::from_secs(config.shutdown_grace_secs),
        max_connections: config.max_connections,
        send_timeout: Duration::from_secs(config.send_timeout_secs),
        admin_token: config.admin_token.clone(),
    };
    server::run(app, listener, admin, workers, settings).await
}
