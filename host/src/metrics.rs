//! Prometheus metrics, served as text on the admin listener's `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-tenant series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    /// The tenant's name.
    pub tenant: String,
}

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The tenant's name (`-` before a tenant is known).
    pub tenant: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the limit-hit counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// The tenant's name.
    pub tenant: String,
    /// Which limit: `requests`, `decoders`, `cpu`, `memory`, `timeout`, `wall` or
    /// `instances`.
    pub limit: &'static str,
}

/// Every series tapedeck exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Family<TenantLabel, Counter>,
    streams: Family<TenantLabel, Gauge>,
    decoders: Family<TenantLabel, Gauge>,
    decoder_starts: Family<TenantLabel, Counter>,
    instantiation: Family<TenantLabel, Histogram>,
    handler: Family<TenantLabel, Histogram>,
    traps: Family<TenantLabel, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
}

/// One tenant's series, looked up once so requests only touch atomics.
#[derive(Clone)]
pub struct TenantMetrics {
    name: String,
    requests: Family<RequestLabels, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
    /// Response body bytes sent.
    pub bytes: Counter,
    /// Responses in flight, bodies included.
    pub streams: Gauge,
    /// Decoder processes running.
    pub decoders: Gauge,
    /// Decoder processes started.
    pub decoder_starts: Counter,
    /// Seconds to instantiate the guest.
    pub instantiation: Histogram,
    /// Seconds from the request to the guest's response head.
    pub handler: Histogram,
    /// Guests that trapped.
    pub traps: Counter,
}

fn latency_histogram() -> Histogram {
    // 10 µs to ~10 s.
    Histogram::new(exponential_buckets(1e-5, 2.0, 21))
}

impl Metrics {
    /// An empty registry with every series declared.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tapedeck");
        let requests = Family::default();
        let bytes = Family::default();
        let streams = Family::default();
        let decoders = Family::default();
        let decoder_starts = Family::default();
        let instantiation = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let handler = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let traps = Family::default();
        let limit_hits = Family::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        registry.register("response_bytes", "Response body bytes sent", bytes.clone());
        registry.register("active_streams", "Responses in flight", streams.clone());
        registry.register("active_decoders", "Decoder processes running", decoders.clone());
        registry.register(
            "decoder_starts",
            "Decoder processes started, probes included",
            decoder_starts.clone(),
        );
        registry.register(
            "guest_instantiation_seconds",
            "Time to instantiate a guest",
            instantiation.clone(),
        );
        registry.register(
            "guest_handler_seconds",
            "Time from request to the guest's response head",
            handler.clone(),
        );
        registry.register("guest_traps", "Guests that trapped", traps.clone());
        registry.register(
            "limit_hits",
            "Requests refused or stopped by a limit",
            limit_hits.clone(),
        );
        Self {
            registry,
            requests,
            bytes,
            streams,
            decoders,
            decoder_starts,
            instantiation,
            handler,
            traps,
            limit_hits,
        }
    }

    /// The series of tenant `name`.
    pub fn tenant(&self, name: &str) -> TenantMetrics {
        let label = TenantLabel { tenant: name.to_owned() };
        TenantMetrics {
            name: name.to_owned(),
            requests: self.requests.clone(),
            limit_hits: self.limit_hits.clone(),
            bytes: self.bytes.get_or_create(&label).clone(),
            streams: self.streams.get_or_create(&label).clone(),
            decoders: self.decoders.get_or_create(&label).clone(),
            decoder_starts: self.decoder_starts.get_or_create(&label).clone(),
            instantiation: self.instantiation.get_or_create(&label).clone(),
            handler: self.handler.get_or_create(&label).clone(),
            traps: self.traps.get_or_create(&label).clone(),
        }
    }

    /// Counts a response of a request no tenant took (unknown host, health, limits).
    pub fn untenanted(&self, status: u16) {
        self.requests.get_or_create(&RequestLabels { tenant: "-".into(), status }).inc();
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl TenantMetrics {
    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts a response with `status`.
    pub fn request(&self, status: u16) {
        self.requests.get_or_create(&RequestLabels { tenant: self.name.clone(), status }).inc();
    }

    /// Counts a request refused or stopped by `limit`.
    pub fn limit_hit(&self, limit: &'static str) {
        self.limit_hits.get_or_create(&LimitLabels { tenant: self.name.clone(), limit }).inc();
    }
}
