//! The running host's state: the engine, the metrics, and the current tenants,
//! which a reload replaces atomically.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use wasmtime::Engine;

use super::Tenants;
use crate::config::Config;
use crate::metrics::Metrics;

/// Where the config comes from: a file re-read on reload, or the command line.
pub enum ConfigSource {
    /// `--config FILE`.
    File(PathBuf),
    /// The plain flags: one tenant, whose guest file is re-read on reload.
    Flags(Config),
}

/// What every connection shares.
pub struct App {
    engine: Engine,
    /// The metrics registry.
    pub metrics: Metrics,
    source: ConfigSource,
    tenants: RwLock<Arc<Tenants>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl App {
    /// Builds the first set of tenants; fails (and the server does not start) if
    /// any guest does not compile or fit.
    pub fn new(engine: Engine, source: ConfigSource, config: &Config) -> Result<Arc<Self>> {
        let metrics = Metrics::new();
        let tenants = Tenants::build(&engine, config, &metrics)?;
        Ok(Arc::new(Self {
            engine,
            metrics,
            source,
            tenants: RwLock::new(Arc::new(tenants)),
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    /// The tenants new requests go to; requests in flight keep the set they started with.
    pub fn tenants(&self) -> Arc<Tenants> {
        Arc::clone(&self.tenants.read().unwrap())
    }

    /// Re-reads the config and recompiles the guests off the request path, then
    /// switches to them at once. On any error the current tenants keep serving.
    /// Logs the outcome either way.
    pub async fn reload(self: &Arc<Self>) -> Result<()> {
        let outcome = self.rebuild().await;
        match &outcome {
            Ok(()) => tracing::info!("reloaded"),
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "reload refused, keeping the running guests"
            ),
        }
        outcome
    }

    async fn rebuild(self: &Arc<Self>) -> Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let app = Arc::clone(self);
        let tenants = tokio::task::spawn_blocking(move || {
            let config = match &app.source {
                ConfigSource::File(path) => Config::load(path)?,
                ConfigSource::Flags(config) => config.clone(),
            };
            Tenants::build(&app.engine, &config, &app.metrics)
        })
        .await
        .context("the reload task failed")??;
        *self.tenants.write().unwrap() = Arc::new(tenants);
        Ok(())
    }
}
