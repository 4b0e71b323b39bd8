//! The service's metrics, in the Prometheus text format at `GET /metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

pub struct Metrics {
    registry: Registry,
    /// Entries this instance published (replays of an idempotency key not counted).
    pub published: Counter,
    /// Publishes refused, by reason (`auth`, `invalid`, `too_large`, `store`, `timeout`).
    pub refused: Family<Labels, Counter>,
    /// Feed document requests, by answer (`200`, `304`, `503`).
    pub feed_requests: Family<Labels, Counter>,
    /// Live (SSE) clients connected now.
    pub sse_clients: Gauge,
    /// Live clients dropped for falling behind (they reconnect and resume).
    pub sse_dropped: Counter,
    /// Entries (and resets) sent to live clients.
    pub sse_sent: Counter,
    /// Time from a publish request's arrival to its entry being durable in the store.
    pub publish_seconds: Histogram,
    /// The feed's newest seq as this instance last read it.
    pub seq: Gauge,
    /// 1 while the store answers, 0 while it does not.
    pub store_up: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("swcache_feed");
        let m = Metrics {
            registry: Registry::default(),
            published: Counter::default(),
            refused: Family::default(),
            feed_requests: Family::default(),
            sse_clients: Gauge::default(),
            sse_dropped: Counter::default(),
            sse_sent: Counter::default(),
            publish_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            seq: Gauge::default(),
            store_up: Gauge::default(),
        };
        registry.register("entries_published", "Entries published through this instance", m.published.clone());
        registry.register("publishes_refused", "Publish requests refused, by reason", m.refused.clone());
        registry.register("feed_requests", "Feed document requests, by status", m.feed_requests.clone());
        registry.register("sse_clients", "Live (Server-Sent Events) clients connected", m.sse_clients.clone());
        registry.register("sse_dropped", "Live clients dropped for falling behind", m.sse_dropped.clone());
        registry.register("sse_events_sent", "Entries and resets sent to live clients", m.sse_sent.clone());
        registry.register(
            "publish_durable_seconds",
            "Time from a publish request to its entry being durable in the store",
            m.publish_seconds.clone(),
        );
        registry.register("seq", "The feed's newest seq as this instance last read it", m.seq.clone());
        registry.register("store_up", "1 while the store answers, 0 while it does not", m.store_up.clone());
        Metrics { registry, ..m }
    }

    pub fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&vec![("reason", reason)]).inc();
    }

    pub fn feed_request(&self, status: &'static str) {
        self.feed_requests.get_or_create(&vec![("status", status)]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
