//! Tenants: which requests reach which sandbox, who may make them, and how many
//! may run at once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use http::{HeaderMap, Uri, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::config::{Config, TenantConfig};
use crate::metrics::{Metrics, TenantMetrics};
use crate::sandbox::{self, Sandbox};

/// The guest component built from `guest/` by the build script.
const EMBEDDED_GUEST: &[u8] = include_bytes!(env!("TAPEDECK_GUEST_WASM"));

/// One tenant: a sandbox and the rules for reaching it.
pub struct Tenant {
    hosts: Vec<String>,
    path_prefix: Option<String>,
    token: Option<String>,
    requests: Arc<Semaphore>,
    /// The tenant's compiled guest and its limits.
    pub sandbox: Arc<Sandbox>,
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
    linker: &wasmtime::component::Linker<sandbox::GuestState>,
    compiled: &mut HashMap<Vec<u8>, Component>,
    config: &TenantConfig,
    metrics: &Metrics,
) -> Result<Tenant> {
    let bytes = match &config.guest {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("failed to read guest `{}`", path.display()))?,
        None => EMBEDDED_GUEST.to_vec(),
    };
    let component = match compiled.get(&bytes) {
        Some(component) => component.clone(),
        None => {
            let component = Component::new(engine, &bytes)
                .map_err(anyhow::Error::from)
                .context("failed to compile the guest component")?;
            compiled.insert(bytes, component.clone());
            component
        }
    };
    let music_dir = config
        .music_dir
        .canonicalize()
        .with_context(|| format!("failed to resolve music dir `{}`", config.music_dir.display()))?;
    let tenant_metrics = metrics.tenant(&config.name);
    let sandbox =
        Sandbox::new(linker, &component, music_dir, config.limits, tenant_metrics.clone())?;
    let sandbox = Arc::new(sandbox);
    Ok(Tenant {
        hosts: config.hosts.clone(),
        path_prefix: config.path_prefix.clone(),
        token: config.token.clone(),
        requests: Arc::new(Semaphore::new(config.limits.max_requests)),
        sandbox,
        metrics: tenant_metrics,
    })
}

impl Tenant {
    /// `path` without this tenant's prefix, if it is under it.
    fn strip_prefix<'a>(&self, path: &'a str) -> Option<&'a str> {
        match &self.path_prefix {
            None => Some(path),
            Some(prefix) => path.strip_prefix(prefix.as_str()).filter(|rest| rest.starts_with('/')),
        }
    }

    /// Whether the request carries the tenant's token, as `Authorization: Bearer`
    /// or as `?token=` (what an `<audio src>` can send). Compared in constant time.
    pub fn authorized(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let Some(token) = &self.token else { return true };
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok()?.strip_prefix("Bearer "));
        let query = uri
            .query()
            .into_iter()
            .flat_map(|query| query.split('&'))
            .filter_map(|pair| pair.strip_prefix("token="));
        bearer.chain(query).any(|offered| {
            constant_time_eq::constant_time_eq(offered.trim().as_bytes(), token.as_bytes())
        })
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
