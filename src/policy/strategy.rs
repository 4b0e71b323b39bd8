//! The five strategies as one small state machine without I/O.
//!
//! The adapter starts a [`Flow`], performs each [`Action`] (read the cache, fetch,
//! wait), feeds the result back, and stops at [`Action::Respond`]. Whether a network
//! response is then written to the cache is [`crate::policy::store`]'s call.

use super::config::{Route, Strategy};
use super::route::CacheMode;

/// A stamp this far in the future (clock moved back) is not trusted as fresh.
const FUTURE_SKEW_MS: f64 = 60_000.0;

/// Whether a copy stamped at `stamp_ms` is fresh at `now_ms` under `max_age_ms`.
/// No `maxAge` → always fresh; a missing or unparseable stamp with a `maxAge` → stale.
pub fn is_fresh(stamp_ms: Option<f64>, now_ms: f64, max_age_ms: Option<f64>) -> bool {
    match (max_age_ms, stamp_ms) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(max), Some(stamp)) => {
            let age = now_ms - stamp;
            age > -FUTURE_SKEW_MS && age < max
        }
    }
}

/// Result of a cache read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lookup {
    Miss,
    /// A stored copy and its `sw-cache-time` in epoch ms (if present and parseable).
    Hit {
        stamp_ms: Option<f64>,
    },
}

/// Result of a network fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetOutcome {
    /// Any response below 500 (stored or not is decided separately).
    Ok,
    /// A 5xx response: a cached copy is preferred where there is one.
    ServerError,
    /// The fetch rejected (offline, connection reset, DNS…).
    Failed,
    /// A 404 or 410: the server does not have it (any more).
    Gone,
    /// A 304 to a request without validators of the page's own (an origin or proxy
    /// answering so): the cached copy is still good, and there is no other body.
    NotModified,
}

/// Why the engine answers with an error of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Network failed and nothing cached: 503.
    Offline,
    /// `networkTimeout` passed on a `networkOnly` route: 504.
    Timeout,
    /// `cacheOnly` and nothing cached: 504.
    NotCached,
}

impl Failure {
    pub fn status(self) -> u16 {
        match self {
            Failure::Offline => 503,
            Failure::Timeout | Failure::NotCached => 504,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Failure::Offline => "swcache: the network request failed and no cached copy exists",
            Failure::Timeout => "swcache: the network did not answer within networkTimeout",
            Failure::NotCached => "swcache: not in the cache (cacheOnly route)",
        }
    }
}

/// What the engine answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The copy from the last cache read; `revalidate`: also fetch and store in the background.
    Cache {
        fresh: bool,
        revalidate: bool,
    },
    /// The network response.
    Network,
    Error(Failure),
}

/// The next thing the adapter must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read the route's cache; report with [`Flow::on_cache`].
    ReadCache,
    /// Start the fetch; report with [`Flow::on_network`], or [`Flow::on_timeout`] if
    /// `timeout_ms` passes first (the fetch keeps running).
    Fetch {
        timeout_ms: Option<u32>,
    },
    /// Keep waiting for the fetch already in flight; report with [`Flow::on_network`].
    AwaitNetwork,
    Respond(Reply),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Cache read before any fetch.
    Read,
    Fetching,
    /// Cache read because the network failed / erred / timed out.
    Fallback(Fallback),
    Awaiting,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fallback {
    Failed,
    ServerError,
    TimedOut,
}

/// One request's way through a strategy.
#[derive(Clone, Debug)]
pub struct Flow {
    strategy: Strategy,
    max_age_ms: Option<f64>,
    timeout_ms: Option<u32>,
    mode: CacheMode,
    phase: Phase,
    /// A stale copy was read before fetching (cacheFirst).
    have_stale: bool,
    /// The network failed or timed out at some point.
    pub network_error: bool,
    /// The URL names its content and the precache may hold it (a content-hashed file,
    /// listed or kept from the previous build): its copy stands in when the server does
    /// not have it (a deploy removed it) or fails, on `networkOnly` too.
    pub hashed: bool,
}

impl Flow {
    pub fn start(route: &Route, mode: CacheMode) -> (Flow, Action) {
        let mut flow = Flow {
            strategy: route.strategy,
            max_age_ms: route.max_age_ms,
            timeout_ms: route.network_timeout_ms,
            mode,
            phase: Phase::Read,
            have_stale: false,
            network_error: false,
            hashed: false,
        };
        let read_first = match route.strategy {
            Strategy::CacheOnly => true,
            Strategy::CacheFirst | Strategy::StaleWhileRevalidate => mode == CacheMode::Default,
            Strategy::NetworkFirst | Strategy::NetworkOnly => false,
        };
        let action = if read_first { Action::ReadCache } else { flow.fetch() };
        (flow, action)
    }

    fn fetch(&mut self) -> Action {
        self.phase = Phase::Fetching;
        let timeout_ms = match self.strategy {
            Strategy::NetworkFirst | Strategy::NetworkOnly => self.timeout_ms,
            _ => None,
        };
        Action::Fetch { timeout_ms }
    }

    fn respond(&mut self, reply: Reply) -> Action {
        self.phase = Phase::Done;
        Action::Respond(reply)
    }

    fn fallback(&mut self, why: Fallback) -> Action {
        if self.mode == CacheMode::NoStore {
            return match why {
                Fallback::Failed => self.respond(Reply::Error(Failure::Offline)),
                Fallback::ServerError => self.respond(Reply::Network),
                Fallback::TimedOut => self.await_network(),
            };
        }
        self.phase = Phase::Fallback(why);
        Action::ReadCache
    }

    fn await_network(&mut self) -> Action {
        self.phase = Phase::Awaiting;
        Action::AwaitNetwork
    }

    /// Feed the result of [`Action::ReadCache`].
    pub fn on_cache(&mut self, lookup: Lookup, now_ms: f64) -> Action {
        let fresh = match lookup {
            Lookup::Miss => None,
            Lookup::Hit { stamp_ms } => Some(is_fresh(stamp_ms, now_ms, self.max_age_ms)),
        };
        match self.phase {
            Phase::Read => match (self.strategy, fresh) {
                (Strategy::CacheOnly, Some(fresh)) => self.respond(Reply::Cache { fresh, revalidate: false }),
                (Strategy::CacheOnly, None) => self.respond(Reply::Error(Failure::NotCached)),
                (Strategy::StaleWhileRevalidate, Some(fresh)) => {
                    self.respond(Reply::Cache { fresh, revalidate: !fresh || self.max_age_ms.is_none() })
                }
                (_, Some(true)) => self.respond(Reply::Cache { fresh: true, revalidate: false }),
                (_, Some(false)) => {
                    self.have_stale = true;
                    self.fetch()
                }
                (_, None) => self.fetch(),
            },
            Phase::Fallback(why) => match (fresh, why) {
                (Some(fresh), _) => self.respond(Reply::Cache { fresh, revalidate: false }),
                (None, Fallback::Failed) => self.respond(Reply::Error(Failure::Offline)),
                (None, Fallback::ServerError) => self.respond(Reply::Network),
                // (networkOnly's timeout is a limit: no copy, its 504.)
                (None, Fallback::TimedOut) if self.strategy == Strategy::NetworkOnly => {
                    self.respond(Reply::Error(Failure::Timeout))
                }
                (None, Fallback::TimedOut) => self.await_network(),
            },
            _ => self.respond(Reply::Error(Failure::Offline)),
        }
    }

    /// Feed the result of [`Action::Fetch`] / [`Action::AwaitNetwork`].
    pub fn on_network(&mut self, outcome: NetOutcome) -> Action {
        if outcome == NetOutcome::Failed {
            self.network_error = true;
        }
        let awaiting = self.phase == Phase::Awaiting;
        // A content-hashed file the server does not have or cannot give: its copy is
        // as good as the server's, so it is read as networkFirst reads one.
        let mut strategy = self.strategy;
        let mut outcome = outcome;
        if self.hashed {
            if outcome == NetOutcome::Gone {
                outcome = NetOutcome::ServerError;
            }
            if strategy == Strategy::NetworkOnly {
                strategy = Strategy::NetworkFirst;
            }
        }
        match outcome {
            NetOutcome::Ok | NetOutcome::Gone => self.respond(Reply::Network),
            _ if awaiting => match outcome {
                NetOutcome::Failed => self.respond(Reply::Error(Failure::Offline)),
                _ => self.respond(Reply::Network),
            },
            NetOutcome::NotModified if self.have_stale => self.respond(Reply::Cache { fresh: true, revalidate: false }),
            _ if self.have_stale => self.respond(Reply::Cache { fresh: false, revalidate: false }),
            // (Read from the cache as after a 5xx: the copy, if there is one, is the answer.)
            NetOutcome::ServerError | NetOutcome::NotModified => match strategy {
                Strategy::NetworkFirst => self.fallback(Fallback::ServerError),
                Strategy::CacheFirst if self.mode == CacheMode::Reload => self.fallback(Fallback::ServerError),
                _ => self.respond(Reply::Network),
            },
            NetOutcome::Failed => match strategy {
                Strategy::NetworkFirst => self.fallback(Fallback::Failed),
                Strategy::CacheFirst | Strategy::StaleWhileRevalidate if self.mode != CacheMode::Default => {
                    self.fallback(Fallback::Failed)
                }
                _ => self.respond(Reply::Error(Failure::Offline)),
            },
        }
    }

    /// The fetch's `networkTimeout` passed before it answered.
    pub fn on_timeout(&mut self) -> Action {
        self.network_error = true;
        match self.strategy {
            Strategy::NetworkFirst => self.fallback(Fallback::TimedOut),
            // (A content-hashed file: its copy is as good as the server's, as on a failure.)
            Strategy::NetworkOnly if self.hashed && self.mode != CacheMode::NoStore => {
                self.fallback(Fallback::TimedOut)
            }
            _ => self.respond(Reply::Error(Failure::Timeout)),
        }
    }

    /// Whether a network response in this flow may be written to the cache at all.
    pub fn may_store(&self) -> bool {
        self.strategy.stores() && self.mode != CacheMode::NoStore
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::config::Matcher;

    const MIN: f64 = 60_000.0;

    fn route(strategy: Strategy, max_age_ms: Option<f64>, timeout: Option<u32>) -> Route {
        Route {
            name: "r".into(),
            matcher: Matcher::Prefix("/".into()),
            strategy,
            max_age_ms,
            max_entries: None,
            network_timeout_ms: timeout,
            cross_origin: false,
            opaque: false,
            router: false,
            cache_name: "swcache-v1-r".into(),
        }
    }

    /// Runs a flow against scripted I/O; returns the actions taken and the reply.
    fn run(
        strategy: Strategy,
        mode: CacheMode,
        cache: Lookup,
        net: &[Option<NetOutcome>], // None = timeout fires first
    ) -> (Vec<Action>, Reply, bool) {
        let r = route(strategy, Some(5.0 * MIN), Some(3000));
        let now = 100.0 * MIN;
        let (mut flow, mut a) = Flow::start(&r, mode);
        let mut trace = vec![];
        let mut net = net.iter();
        loop {
            trace.push(a);
            a = match a {
                Action::ReadCache => flow.on_cache(cache, now),
                Action::Fetch { .. } | Action::AwaitNetwork => match net.next().expect("unexpected fetch") {
                    Some(o) => flow.on_network(*o),
                    None => flow.on_timeout(),
                },
                Action::Respond(reply) => return (trace, reply, flow.network_error),
            };
        }
    }

    const FRESH: Lookup = Lookup::Hit { stamp_ms: Some(99.0 * MIN) };
    const STALE: Lookup = Lookup::Hit { stamp_ms: Some(90.0 * MIN) };
    const OK: Option<NetOutcome> = Some(NetOutcome::Ok);
    const FAIL: Option<NetOutcome> = Some(NetOutcome::Failed);
    const E500: Option<NetOutcome> = Some(NetOutcome::ServerError);
    const TIMEOUT: Option<NetOutcome> = None;
    const D: CacheMode = CacheMode::Default;

    fn cached(fresh: bool) -> Reply {
        Reply::Cache { fresh, revalidate: false }
    }

    /// A content-hashed file on a networkOnly route with a networkTimeout: its precached
    /// copy answers when the server fails or no longer has it, and so when the server does
    /// not answer in time (before: a 504, past the copy a tab of the old build needs).
    #[test]
    fn a_hashed_file_on_network_only_falls_back_to_its_copy_after_the_timeout() {
        let r = route(Strategy::NetworkOnly, None, Some(3000));
        let (mut flow, a) = Flow::start(&r, CacheMode::Default);
        flow.hashed = true;
        assert!(matches!(a, Action::Fetch { timeout_ms: Some(3000) }));
        assert_eq!(flow.on_timeout(), Action::ReadCache, "the copy is read");
        assert_eq!(flow.on_cache(Lookup::Hit { stamp_ms: None }, 0.0), Action::Respond(cached(true)));
    }

    #[test]
    fn freshness_boundary() {
        let max = Some(1000.0);
        assert!(is_fresh(Some(0.0), 999.0, max));
        assert!(!is_fresh(Some(0.0), 1000.0, max), "age == maxAge is stale");
        assert!(!is_fresh(None, 0.0, max));
        assert!(is_fresh(None, 0.0, None));
        assert!(is_fresh(Some(0.0), 1e15, None));
        assert!(!is_fresh(Some(0.0), 0.0, Some(0.0)), "maxAge 0 never fresh");
        assert!(is_fresh(Some(30_000.0), 0.0, max), "small clock skew tolerated");
        assert!(!is_fresh(Some(120_000.0), 0.0, max), "stamp far in the future is stale");
    }

    #[test]
    fn cache_first() {
        let (t, r, _) = run(Strategy::CacheFirst, D, FRESH, &[]);
        assert_eq!((t.len(), r), (2, cached(true)), "fresh hit never touches the network");
        let (_, r, _) = run(Strategy::CacheFirst, D, STALE, &[OK]);
        assert_eq!(r, Reply::Network);
        let (_, r, _) = run(Strategy::CacheFirst, D, Lookup::Miss, &[OK]);
        assert_eq!(r, Reply::Network);
        let (_, r, e) = run(Strategy::CacheFirst, D, STALE, &[FAIL]);
        assert_eq!((r, e), (cached(false), true), "offline → stale copy");
        let (_, r, _) = run(Strategy::CacheFirst, D, STALE, &[E500]);
        assert_eq!(r, cached(false), "5xx → stale copy");
        let (_, r, _) = run(Strategy::CacheFirst, D, Lookup::Miss, &[FAIL]);
        assert_eq!(r, Reply::Error(Failure::Offline));
        let (_, r, _) = run(Strategy::CacheFirst, D, Lookup::Miss, &[E500]);
        assert_eq!(r, Reply::Network, "5xx with nothing cached passes through");
    }

    #[test]
    fn cache_first_reload_skips_the_read_but_falls_back() {
        let (t, r, _) = run(Strategy::CacheFirst, CacheMode::Reload, FRESH, &[OK]);
        assert_eq!(t[0], Action::Fetch { timeout_ms: None });
        assert_eq!(r, Reply::Network);
        let (t, r, _) = run(Strategy::CacheFirst, CacheMode::Reload, FRESH, &[FAIL]);
        assert_eq!(t[1], Action::ReadCache);
        assert_eq!(r, cached(true));
        let (_, r, _) = run(Strategy::CacheFirst, CacheMode::Reload, Lookup::Miss, &[FAIL]);
        assert_eq!(r, Reply::Error(Failure::Offline));
        let (t, r, _) = run(Strategy::CacheFirst, CacheMode::NoStore, FRESH, &[FAIL]);
        assert!(!t.contains(&Action::ReadCache), "no-store never reads");
        assert_eq!(r, Reply::Error(Failure::Offline));
    }

    #[test]
    fn network_first() {
        let (t, r, _) = run(Strategy::NetworkFirst, D, FRESH, &[OK]);
        assert_eq!(t, vec![Action::Fetch { timeout_ms: Some(3000) }, Action::Respond(Reply::Network)]);
        assert_eq!(r, Reply::Network);
        let (_, r, _) = run(Strategy::NetworkFirst, D, STALE, &[FAIL]);
        assert_eq!(r, cached(false), "failure → cached copy even if stale");
        let (_, r, _) = run(Strategy::NetworkFirst, D, STALE, &[TIMEOUT]);
        assert_eq!(r, cached(false), "timeout → cached copy");
        let (t, r, _) = run(Strategy::NetworkFirst, D, Lookup::Miss, &[TIMEOUT, OK]);
        assert_eq!(t[2], Action::AwaitNetwork, "timeout with nothing cached keeps waiting");
        assert_eq!(r, Reply::Network);
        let (_, r, _) = run(Strategy::NetworkFirst, D, Lookup::Miss, &[TIMEOUT, FAIL]);
        assert_eq!(r, Reply::Error(Failure::Offline));
        let (_, r, _) = run(Strategy::NetworkFirst, D, Lookup::Miss, &[FAIL]);
        assert_eq!(r, Reply::Error(Failure::Offline));
        let (_, r, _) = run(Strategy::NetworkFirst, D, FRESH, &[E500]);
        assert_eq!(r, cached(true));
        let (_, r, _) = run(Strategy::NetworkFirst, D, Lookup::Miss, &[E500]);
        assert_eq!(r, Reply::Network);
    }

    #[test]
    fn stale_while_revalidate() {
        let (_, r, _) = run(Strategy::StaleWhileRevalidate, D, FRESH, &[]);
        assert_eq!(r, Reply::Cache { fresh: true, revalidate: false });
        let (_, r, _) = run(Strategy::StaleWhileRevalidate, D, STALE, &[]);
        assert_eq!(r, Reply::Cache { fresh: false, revalidate: true });
        let (_, r, _) = run(Strategy::StaleWhileRevalidate, D, Lookup::Miss, &[OK]);
        assert_eq!(r, Reply::Network);
        let (_, r, _) = run(Strategy::StaleWhileRevalidate, D, Lookup::Miss, &[FAIL]);
        assert_eq!(r, Reply::Error(Failure::Offline));
        // Without maxAge every hit revalidates (the classic behaviour).
        let rt = route(Strategy::StaleWhileRevalidate, None, None);
        let (mut f, _) = Flow::start(&rt, D);
        assert_eq!(f.on_cache(FRESH, 0.0), Action::Respond(Reply::Cache { fresh: true, revalidate: true }));
    }

    #[test]
    fn network_only_and_cache_only() {
        let (t, r, _) = run(Strategy::NetworkOnly, D, FRESH, &[FAIL]);
        assert!(!t.contains(&Action::ReadCache));
        assert_eq!(r, Reply::Error(Failure::Offline));
        let (_, r, _) = run(Strategy::NetworkOnly, D, FRESH, &[TIMEOUT]);
        assert_eq!(r, Reply::Error(Failure::Timeout));
        let (t, r, _) = run(Strategy::CacheOnly, CacheMode::Reload, STALE, &[]);
        assert_eq!((t.len(), r), (2, cached(false)));
        let (_, r, _) = run(Strategy::CacheOnly, D, Lookup::Miss, &[]);
        assert_eq!(r, Reply::Error(Failure::NotCached));
        assert_eq!(Failure::NotCached.status(), 504);
        assert_eq!(Failure::Offline.status(), 503);
    }

    #[test]
    fn store_permission() {
        let r = route(Strategy::CacheFirst, None, None);
        assert!(Flow::start(&r, D).0.may_store());
        assert!(Flow::start(&r, CacheMode::Reload).0.may_store());
        assert!(!Flow::start(&r, CacheMode::NoStore).0.may_store());
        assert!(!Flow::start(&route(Strategy::NetworkOnly, None, None), D).0.may_store());
    }

    /// Every strategy × mode × cache state × network script ends in a reply within a
    /// few steps, and never answers from a cache read that missed.
    #[test]
    fn exhaustive_termination() {
        let strategies = Strategy::ALL.map(|(_, s)| s);
        let modes = [CacheMode::Default, CacheMode::Reload, CacheMode::NoStore];
        let lookups = [Lookup::Miss, FRESH, STALE, Lookup::Hit { stamp_ms: None }];
        let outcomes = [OK, FAIL, E500, TIMEOUT];
        for s in strategies {
            for m in modes {
                for l in lookups {
                    for n1 in outcomes {
                        for n2 in [OK, FAIL, E500] {
                            let (t, reply, _) = run(s, m, l, &[n1, n2]);
                            assert!(t.len() <= 5, "{s:?} {m:?} {l:?} {n1:?}: {t:?}");
                            if l == Lookup::Miss || t.iter().all(|a| *a != Action::ReadCache) {
                                assert!(!matches!(reply, Reply::Cache { .. }), "{s:?} {m:?} {l:?} {n1:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}
