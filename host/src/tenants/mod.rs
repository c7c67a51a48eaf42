//! Tenants: which requests reach which sandbox, who may make them, and how many
//! may run at once.

pub mod app;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use http::{HeaderMap, Uri, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::config::{Config, TenantConfig};
use crate::io::pace::Limit;
use crate::metrics::{Metrics, TenantMetrics};
use crate::sandbox::{self, Grants, GuestState, Sandbox};

/// Compares a token offered with the tenant's in time that depends only on the
/// tenant's token, so that neither its bytes nor its length leak through timing.
pub fn token_matches(offered: &[u8], token: &[u8]) -> bool {
    let mut difference = u8::from(offered.len() != token.len());
    for (index, &byte) in token.iter().enumerate() {
        let other = offered.get(index).copied().unwrap_or(!byte);
        difference |= std::hint::black_box(byte ^ other);
    }
    difference == 0
}

/// The guest component built from `guest/` by the build script.
const EMBEDDED_GUEST: &[u8] = include_bytes!(env!("TAPEDECK_GUEST_WASM"));
/// The library guest built from `guest/library/` by the build script.
const EMBEDDED_LIBRARY: &[u8] = include_bytes!(env!("TAPEDECK_LIBRARY_WASM"));

/// The paths the library guest answers: the player page and the metadata API. The
/// tenant's own guest answers every other path, `/stream/…` among them.
fn is_library_path(path: &str) -> bool {
    matches!(path, "/" | "/index.html") || path.starts_with("/api/")
}

/// One tenant: a sandbox and the rules for reaching it.
pub struct Tenant {
    hosts: Vec<String>,
    path_prefix: Option<String>,
    token: Option<String>,
    requests: Arc<Semaphore>,
    /// How long one of its requests may run, streaming included.
    pub request_timeout: Duration,
    /// The pace of its responses, if it limits their rate.
    pub pace: Option<Limit>,
    /// The guest that answers `/stream/…`: the tenant's own, or the embedded one.
    streams: Arc<Sandbox>,
    /// The guest that answers the web player and the metadata API.
    library: Arc<Sandbox>,
    /// The tenant's metrics.
    pub metrics: TenantMetrics,
}

/// All tenants of one config, matched in order.
pub struct Tenants(Vec<Tenant>);

impl Tenants {
    /// Compiles every tenant's guest (once per distinct component) and checks it
    /// fits the world. Slow: run it off the request path.
    pub fn build(engine: &Engine, config: &Config, metrics: &Metrics) -> Result<Self> {
        let linker = sandbox::linker(engine)?;
        let mut compiled: HashMap<Vec<u8>, Component> = HashMap::new();
        let mut tenants = Vec::with_capacity(config.tenants.len());
        for tenant in &config.tenants {
            let built = build_tenant(engine, &linker, &mut compiled, tenant, metrics)
                .with_context(|| format!("tenant `{}`", tenant.name))?;
            tenants.push(built);
        }
        Ok(Self(tenants))
    }

    /// The first tenant that takes a request for `host` and `path`.
    /// Returns it with the path its guest sees (`path` without the tenant's prefix).
    pub fn route<'a>(&self, host: Option<&str>, path: &'a str) -> Option<(&Tenant, &'a str)> {
        // The Host header may carry a port; tenants are named by host alone.
        let host = host.map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name));
        self.0.iter().find_map(|tenant| {
            let host_matches = tenant.hosts.is_empty()
                || host
                    .is_some_and(|host| tenant.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)));
            if !host_matches {
                return None;
            }
            tenant.strip_prefix(path).map(|guest_path| (tenant, guest_path))
        })
    }
}

fn build_tenant(
    engine: &Engine,
    linker: &wasmtime::component::Linker<GuestState>,
    compiled: &mut HashMap<Vec<u8>, Component>,
    config: &TenantConfig,
    metrics: &Metrics,
) -> Result<Tenant> {
    let stream_guest = match &config.guest {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("failed to read guest `{}`", path.display()))?,
        None => EMBEDDED_GUEST.to_vec(),
    };
    let stream_guest = compile(engine, compiled, stream_guest)?;
    let library_guest = compile(engine, compiled, EMBEDDED_LIBRARY.to_vec())?;
    let music_dir = config
        .music_dir
        .canonicalize()
        .with_context(|| format!("failed to resolve music dir `{}`", config.music_dir.display()))?;
    let tenant_metrics = metrics.tenant(&config.name);
    let grants = Grants::new(&music_dir, &config.limits, &tenant_metrics)?;
    let sandbox = |component: &Component| {
        let grants = Arc::clone(&grants);
        Sandbox::new(linker, component, grants, config.limits, tenant_metrics.clone()).map(Arc::new)
    };
    let streams = sandbox(&stream_guest)?;
    let library = sandbox(&library_guest).context("the library guest")?;
    Ok(Tenant {
        hosts: config.hosts.clone(),
        path_prefix: config.path_prefix.clone(),
        token: config.token.clone(),
        requests: Arc::new(Semaphore::new(config.limits.max_requests)),
        request_timeout: config.limits.request_timeout(),
        pace: config.limits.response_pace(),
        streams,
        library,
        metrics: tenant_metrics,
    })
}

/// The compiled `bytes`, compiled once however many tenants run them.
fn compile(
    engine: &Engine,
    compiled: &mut HashMap<Vec<u8>, Component>,
    bytes: Vec<u8>,
) -> Result<Component> {
    if let Some(component) = compiled.get(&bytes) {
        return Ok(component.clone());
    }
    let component = Component::new(engine, &bytes)
        .map_err(anyhow::Error::from)
        .context("failed to compile the guest component")?;
    compiled.insert(bytes, component.clone());
    Ok(component)
}

impl Tenant {
    /// `path` without this tenant's prefix, if it is under it: empty for the prefix
    /// alone, which the server redirects to the prefix's `/`.
    fn strip_prefix<'a>(&self, path: &'a str) -> Option<&'a str> {
        match &self.path_prefix {
            None => Some(path),
            Some(prefix) => path
                .strip_prefix(prefix.as_str())
                .filter(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }

    /// The tenant's path prefix, empty when it has none.
    pub fn path_prefix(&self) -> &str {
        self.path_prefix.as_deref().unwrap_or_default()
    }

    /// The guest that answers `path` (as the guest sees it), and whether it is the
    /// library guest, which is told the tenant's prefix to build its links.
    pub fn sandbox_for(&self, path: &str) -> (&Arc<Sandbox>, bool) {
        if is_library_path(path) { (&self.library, true) } else { (&self.streams, false) }
    }

    /// Whether the tenant needs a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether the request carries the tenant's token, as `Authorization: Bearer`
    /// or as `?token=` (what an `<audio src>` can send), percent-decoded.
    pub fn authorized(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let Some(token) = &self.token else { return true };
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok()?.strip_prefix("Bearer "))
            .map(|offered| Cow::Borrowed(offered.trim().as_bytes()));
        let query = uri
            .query()
            .into_iter()
            .flat_map(|query| query.split('&'))
            .filter_map(|pair| pair.strip_prefix("token="))
            .map(|offered| Cow::from(percent_encoding::percent_decode_str(offered)));
        bearer.chain(query).any(|offered| token_matches(&offered, token.as_bytes()))
    }

    /// A place for one more request in flight, or `None` when the tenant is at its cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.requests).try_acquire_owned().ok();
        if permit.is_none() {
            self.metrics.limit_hit("requests");
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::types::ComponentItem;

    use super::*;

    /// Every import is work at every instantiation, once per request: the embedded
    /// guest imports no WASI CLI interface (std's stdio, environment and exit, which
    /// it never calls), and none of the functions that write a body through
    /// `wasi:http` (its bodies are the host's: `file-body` and `transcode`).
    #[test]
    fn the_embedded_guest_imports_no_wasi_cli_interface_nor_body_writers() {
        let engine = Engine::default();
        let component = Component::new(&engine, EMBEDDED_GUEST).unwrap();
        let mut functions = Vec::new();
        for (name, item) in component.component_type().imports(&engine) {
            assert!(!name.starts_with("wasi:cli/"), "the guest imports {name}");
            if let ComponentItem::ComponentInstance(instance) = item.ty {
                functions
                    .extend(instance.exports(&engine).map(|(function, _)| function.to_owned()));
            }
        }
        assert!(functions.iter().any(|name| name == "[static]fields.from-list"), "{functions:?}");
        for writer in ["[method]outgoing-response.body", "[method]outgoing-body.write"] {
            assert!(!functions.iter().any(|name| name == writer), "{writer} in {functions:?}");
        }
    }
}
