//! The configuration: listeners and tenants, from a TOML file (`--config`) or, for
//! one tenant, from the plain command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Everything `tapedeck serve` runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the public HTTP listener.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin listener (`/metrics`, `POST /admin/reload`); off when absent.
    pub admin_listen: Option<SocketAddr>,
    /// Where compiled guests are cached, keyed by content hash; wasmtime's default
    /// cache directory when absent.
    pub cache_dir: Option<PathBuf>,
    /// Seconds streams in flight may run on after SIGTERM; the process exits then.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
    /// Client connections open at once, across tenants; past it a new connection gets
    /// a 503 and is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a response may wait on a client that reads nothing before the
    /// connection is closed (a slow reader that keeps reading is not cut).
    #[serde(default = "default_send_timeout")]
    pub send_timeout_secs: u64,
    /// A token the admin listener requires as `Authorization: Bearer`; none when absent.
    pub admin_token: Option<String>,
    /// The uid decoders run as; the server's own when absent.
    pub decoder_uid: Option<u32>,
    /// The gid decoders run as (with `decoder_uid`).
    pub decoder_gid: Option<u32>,
    /// The tenants, matched in order.
    #[serde(rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

/// One tenant: a music dir, the guest that serves it, who may reach it, its limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Name used in logs and metrics.
    pub name: String,
    /// Host header values that reach this tenant (any host when empty).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// URL path prefix that reaches this tenant, stripped before the guest sees it.
    pub path_prefix: Option<String>,
    /// The tenant's library; its guest sees this directory, read-only, and nothing else.
    pub music_dir: PathBuf,
    /// The guest component (`.wasm`); the embedded one when absent.
    pub guest: Option<PathBuf>,
    /// A token clients must present (`Authorization: Bearer` or `?token=`).
    pub token: Option<String>,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
}

/// What one tenant may use.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory of one guest instance, in MiB.
    pub memory_mib: u64,
    /// CPU time one request's guest may use, in milliseconds.
    pub cpu_ms: u64,
    /// Requests in flight at once, streaming included; past it, 503.
    pub max_requests: usize,
    /// Decoder processes at once; past it, 503.
    pub max_decoders: usize,
    /// Seconds one request may run, streaming included.
    pub request_timeout_secs: u64,
    /// Milliseconds a guest may take to answer, its host calls included.
    pub guest_wall_ms: u64,
    /// Guest instances of this tenant at once; reserved for it in the host's pool.
    pub max_instances: u32,
    /// Bytes a second one response may go at once `limit_rate_after` bytes have gone;
    /// 0 for no limit.
    pub limit_rate: u64,
    /// Bytes a response sends at full speed before `limit_rate` applies.
    pub limit_rate_after: u64,
    /// How many times real time a transcode may be sent once `transcode_pace_after_secs`
    /// of it have gone, so that a listener who skips a track stops costing decoder time
    /// and egress; 0 for no pacing.
    pub transcode_pace: f64,
    /// Seconds of a transcode sent at full speed before `transcode_pace` applies.
    pub transcode_pace_after_secs: u64,
    /// The highest bitrate of a transcode, in kbit/s: `/stream/mp3/?bitrate=` above it gets
    /// it, and HLS lists only renditions within it; 0 for no cap.
    pub max_bitrate: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            cpu_ms: 1000,
            max_requests: 1024,
            max_decoders: 8,
            request_timeout_secs: 3600,
            guest_wall_ms: 10_000,
            max_instances: 64,
            limit_rate: 0,
            limit_rate_after: 0,
            transcode_pace: 0.0,
            transcode_pace_after_secs: 30,
            max_bitrate: 0,
        }
    }
}

impl Limits {
    /// Guest memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib << 20).unwrap_or(usize::MAX)
    }

    /// The CPU budget of one request.
    pub fn cpu(&self) -> Duration {
        Duration::from_millis(self.cpu_ms)
    }

    /// The wall-clock budget of one request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The pace of every response, if the tenant limits it.
    pub fn response_pace(&self) -> Option<crate::io::pace::Limit> {
        (self.limit_rate > 0).then_some(crate::io::pace::Limit {
            rate: self.limit_rate,
            after: self.limit_rate_after,
        })
    }

    /// The pace of a transcode that plays `bytes_per_sec`, if the tenant paces them.
    pub fn transcode_pace(&self, bytes_per_sec: u64) -> Option<crate::io::pace::Limit> {
        (self.transcode_pace > 0.0).then(|| crate::io::pace::Limit {
            rate: (bytes_per_sec as f64 * self.transcode_pace).ceil() as u64,
            after: bytes_per_sec.saturating_mul(self.transcode_pace_after_secs),
        })
    }

    /// The wall-clock budget of one guest's answer.
    pub fn guest_wall(&self) -> Duration {
        Duration::from_millis(self.guest_wall_ms)
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_shutdown_grace() -> u64 {
    10
}

fn default_max_connections() -> usize {
    4096
}

fn default_send_timeout() -> u64 {
    60
}

/// Guest instances the host's pool holds, across tenants: what the tenants'
/// `max_instances` and their spare instances must fit in.
pub const INSTANCE_SLOTS: u32 = 1000;

/// Instances a tenant keeps made ahead of requests (one per guest component).
pub const SPARE_INSTANCES: u32 = 2;

impl Config {
    /// Reads and checks the file at `path`; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read config `{}`", path.display()))?;
        let mut config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid config `{}`", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for tenant in &mut config.tenants {
            tenant.music_dir = base.join(&tenant.music_dir);
            tenant.guest = tenant.guest.as_ref().map(|guest| base.join(guest));
        }
        config.cache_dir = config.cache_dir.map(|dir| base.join(dir));
        config.check().with_context(|| format!("invalid config `{}`", path.display()))?;
        Ok(config)
    }

    /// Refuses configs that would misroute or misbehave, naming the field at fault.
    pub fn check(&self) -> Result<()> {
        if self.tenants.is_empty() {
            bail!("`tenant`: at least one tenant is needed");
        }
        if self.max_connections == 0 || self.send_timeout_secs == 0 {
            bail!("`max_connections` and `send_timeout_secs` must be at least 1");
        }
        if self.admin_token.as_ref().is_some_and(|token| token.is_empty()) {
            bail!("`admin_token`: must not be empty");
        }
        if self.decoder_gid.is_some() && self.decoder_uid.is_none() {
            bail!("`decoder_gid`: needs `decoder_uid`");
        }
        let instances: u32 = self
            .tenants
            .iter()
            .map(|tenant| tenant.limits.max_instances.saturating_add(SPARE_INSTANCES))
            .fold(0, u32::saturating_add);
        if instances > INSTANCE_SLOTS {
            bail!(
                "`tenant.*.limits.max_instances`: the tenants reserve {instances} instances \
                 (with {SPARE_INSTANCES} spares each), more than the {INSTANCE_SLOTS} the host has"
            );
        }
        for (index, tenant) in self.tenants.iter().enumerate() {
            let name = &tenant.name;
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!("`tenant[{index}].name`: `{name}` must be letters, digits, `-`, `_` or `.`");
            }
            if self.tenants[..index].iter().any(|other| other.name == *name) {
                bail!("`tenant[{index}].name`: `{name}` is used twice");
            }
            if !tenant.music_dir.is_dir() {
                bail!(
                    "`tenant.{name}.music_dir`: `{}` is not a directory",
                    tenant.music_dir.display()
                );
            }
            if let Some(guest) = &tenant.guest
                && !guest.is_file()
            {
                bail!("`tenant.{name}.guest`: `{}` is not a file", guest.display());
            }
            if let Some(prefix) = &tenant.path_prefix
                && (!prefix.starts_with('/') || prefix.ends_with('/') || prefix.len() < 2)
            {
                bail!("`tenant.{name}.path_prefix`: `{prefix}` must look like `/name`");
            }
            if tenant.token.as_ref().is_some_and(|token| token.is_empty()) {
                bail!("`tenant.{name}.token`: must not be empty");
            }
            let limits = &tenant.limits;
            for (field, value) in [
                ("memory_mib", limits.memory_mib),
                ("cpu_ms", limits.cpu_ms),
                ("max_requests", limits.max_requests as u64),
                ("max_decoders", limits.max_decoders as u64),
                ("request_timeout_secs", limits.request_timeout_secs),
                ("guest_wall_ms", limits.guest_wall_ms),
                ("max_instances", u64::from(limits.max_instances)),
            ] {
                if value == 0 {
                    bail!("`tenant.{name}.limits.{field}`: must be at least 1");
                }
            }
            if !(limits.transcode_pace == 0.0 || limits.transcode_pace >= 1.0) {
                bail!("`tenant.{name}.limits.transcode_pace`: 0 (off) or at least 1 (real time)");
            }
            if limits.max_bitrate != 0 && limits.max_bitrate < 32 {
                bail!("`tenant.{name}.limits.max_bitrate`: 0 (no cap) or at least 32 (kbit/s)");
            }
            if limits.memory_mib > 4096 {
                bail!("`tenant.{name}.limits.memory_mib`: at most 4096 (a 32-bit guest)");
            }
        }
        Ok(())
    }
}
