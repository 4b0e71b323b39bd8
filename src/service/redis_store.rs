//! The `redis://HOST:PORT/DB` store: the feed's state in Redis, shared by any number of
//! service instances (and `swcache-feed add --store redis://…`).
//!
//! Keys (all under one hash tag, `{NS}`, so they stay together in a cluster slot):
//! * `{NS}:epoch`: the feed's epoch (set once, by whoever comes first);
//! * `{NS}:seq`: the newest seq (`INCR`ed by the publish script);
//! * `{NS}:entries`: a list of entry JSON lines, oldest first, exactly as the feed
//!   writes them;
//! * `{NS}:baseline`: the baseline's JSON (`{"seq":…,"timestamp":…}`), once compacted;
//! * `{NS}:key:<Idempotency-Key>`: `"<seq> <timestamp ms>"` of the publish it made, for a day.
//!
//! A publish is one Lua script (an idempotency check, `INCR`, `RPUSH`, `PUBLISH`), so no
//! two publishers ever get the same seq and no entry is half-written. Reading takes the
//! four keys in one `MULTI`, assembles the feed document and reads it with
//! [`feed::parse`], then compacts it with [`feed::compact`] (the file store's rules);
//! when that dropped entries, a second script trims them from the list and moves the
//! baseline forward (never back), so every reader computes the same document. Only the
//! service's reads and `compact` do that: [`RedisStore::peek`] (`show`, `init`) writes
//! nothing, so a command run without the service's `--keep` folds nothing it keeps. New
//! entries are announced on the channel `{NS}:published` (its payload: the seq).

use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};
use tokio::sync::{Mutex, Notify};

use crate::native::push_json_str;
use crate::policy::feed::{self, Feed};
use crate::policy::time;
use crate::policy::value::Value;

use super::store_api::new_epoch;
use super::store_api::{entry_fingerprint, key_reused, parse_stored, Published, StoreError, IDEMPOTENCY_TTL_SECS};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// KEYS: seq, entries, idempotency key (or the seq key again when none), epoch.
/// ARGV: the entry's JSON after its seq (`,"timestamp":…}`), the channel, the key's
/// value's time part, its TTL, "1" when a key is given, and an epoch to set if none is.
const PUBLISH: &str = r#"
redis.call('SET', KEYS[4], ARGV[6], 'NX')
if ARGV[5] == '1' then
  local prior = redis.call('GET', KEYS[3])
  if prior then return {prior, 1} end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ARGV[1])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], seq .. ' ' .. ARGV[3], 'EX', tonumber(ARGV[4]))
end
-- (The announcement is a hint: readers read the store every second anyway. One Redis
-- refuses, an ACL user without the channel, must not fail an entry already written.)
redis.pcall('PUBLISH', ARGV[2], seq)
return {tostring(seq), 0}
"#;

/// KEYS: entries, baseline. ARGV: the new baseline's seq and JSON. Moves the baseline
/// forward only, and drops the list's entries up to it.
const TRIM: &str = r#"
local upto = tonumber(ARGV[1])
local b = redis.call('GET', KEYS[2])
if (not b) or tonumber(string.match(b, '"seq":(%d+)')) < upto then
  redis.call('SET', KEYS[2], ARGV[2])
end
local n = 0
while true do
  local first = redis.call('LINDEX', KEYS[1], 0)
  if not first then break end
  local s = tonumber(string.match(first, '^{"seq":(%d+)'))
  if (not s) or s > upto then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
"#;

/// KEYS: epoch, seq, baseline, entries. ARGV: the epoch, the floor, the baseline's JSON.
/// In that epoch, moves a seq below the floor up to it, with the baseline, and drops the
/// entries (all below the floor).
const FENCE: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local floor = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= floor then return 0 end
redis.call('SET', KEYS[2], floor)
redis.call('SET', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
return 1
"#;

pub struct RedisStore {
    client: Client,
    keep: usize,
    ns: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    publish: Script,
    trim: Script,
    /// Fired by the subscriber task on every announcement and on every (re)subscription.
    news: Arc<Notify>,
    follow: Once,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    // A password the URL gives that Redis refuses (WRONGPASS, or Redis wants none): the
    // client's error says only that it failed.
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return StoreError::Config(
            "redis: authentication failed: Redis refused the password the --store URL gives (redis://:PASSWORD@HOST:PORT/DB, or redis://USER:PASSWORD@… for an ACL user): check it against Redis's requirepass or ACL user (a Redis without a password wants none in the URL)".into(),
        );
    }
    let text = e.to_string();
    // Redis wants a password the URL does not give: it answers "NOAUTH Authentication
    // required." (the client keeps only the second part when its SELECT got it), and cuts
    // off a long command (the publish script) with "Protocol error: unauthenticated …".
    if text.contains("NOAUTH") || text.contains("Authentication required") || text.contains("unauthenticated") {
        return StoreError::Config(format!(
            "redis: authentication failed: the server requires a password and the --store URL has none: give it as redis://:PASSWORD@HOST:PORT/DB (redis://USER:PASSWORD@… for an ACL user); Redis answered: {text}"
        ));
    }
    // Something else answers on that port (an HTTP server, say): the client's own words
    // are about bytes it could not parse.
    if e.kind() == redis::ErrorKind::Parse || text.contains("Parse error") {
        let first = text.lines().next().unwrap_or_default();
        return StoreError::Config(format!(
            "redis: what answers at the --store URL's HOST:PORT does not speak Redis's protocol (another service on that port? Redis listens on 6379 unless told otherwise); the client said: {first}"
        ));
    }
    StoreError::Unavailable(format!("redis: {e}"))
}

/// A setting (`CONFIG GET`), `None` when Redis does not tell; an error only for a
/// password the URL lacks.
async fn config_get(c: &mut MultiplexedConnection, name: &str) -> Result<Option<String>, StoreError> {
    match redis::cmd("CONFIG").arg("GET").arg(name).query_async::<Vec<String>>(c).await {
        Ok(v) => Ok(v.into_iter().nth(1)),
        Err(e) => match unavailable(e) {
            StoreError::Config(m) => Err(StoreError::Config(m)),
            _ => Ok(None),
        },
    }
}

impl RedisStore {
    pub async fn open(url: &str, keep: usize, namespace: &str) -> Result<RedisStore, StoreError> {
        let client = Client::open(url).map_err(|e| StoreError::Config(format!("bad Redis URL: {e}")))?;
        if namespace.is_empty() || namespace.contains(['{', '}']) {
            return Err(StoreError::Config("the Redis namespace must be non-empty, without braces".into()));
        }
        let store = RedisStore {
            client,
            keep,
            ns: namespace.to_string(),
            conn: Mutex::new(None),
            publish: Script::new(PUBLISH),
            trim: Script::new(TRIM),
            news: Arc::new(Notify::new()),
            follow: Once::new(),
        };
        Ok(store)
    }

    fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.ns)
    }

    pub fn describe(&self) -> String {
        let info = self.client.get_connection_info();
        format!("redis://{}/{} (keys {{{}}}:*)", info.addr(), info.redis_settings().db(), self.ns)
    }

    /// A connection: the open one, or a new one (the old one is dropped on an error).
    async fn conn(&self) -> Result<MultiplexedConnection, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let c = self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(unavailable)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Forgets the connection after an error that may have broken it.
    async fn failed(&self, e: redis::RedisError) -> StoreError {
        if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal() {
            *self.conn.lock().await = None;
        }
        if e.to_string().contains("WRONGTYPE") {
            return self.wrong_type().await;
        }
        unavailable(e)
    }

    /// Redis answered WRONGTYPE: which of the feed's keys holds another type than the
    /// feed keeps there (another program uses the key name). Nothing is written over it.
    async fn wrong_type(&self) -> StoreError {
        let mut found = vec![];
        if let Ok(mut c) = self.conn().await {
            for (name, kept) in [("epoch", "string"), ("seq", "string"), ("baseline", "string"), ("entries", "list")] {
                let key = self.key(name);
                if let Ok(t) = redis::cmd("TYPE").arg(&key).query_async::<String>(&mut c).await {
                    if t != kept && t != "none" {
                        found.push(format!("the key {key} holds a {t}, where the feed keeps a {kept}"));
                    }
                }
            }
        }
        if found.is_empty() {
            found.push(format!("a key under {{{}}}:* holds another type than the feed keeps there", self.ns));
        }
        StoreError::Corrupt(format!(
            "redis: {}: another program uses the feed's key names. Give the feed keys of its own with --namespace (the same for every service instance and add), or delete the key if what it holds is not needed",
            found.join("; ")
        ))
    }

    /// The epoch, set by the first instance that needs one.
    async fn epoch(&self, c: &mut MultiplexedConnection) -> Result<String, StoreError> {
        let key = self.key("epoch");
        let set: redis::RedisResult<Option<String>> =
            redis::cmd("SET").arg(&key).arg(new_epoch()).arg("NX").arg("GET").query_async(c).await;
        match set {
            Ok(Some(existing)) => Ok(existing),
            Ok(None) => redis::cmd("GET").arg(&key).query_async(c).await.map_err(unavailable),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn publish(
        &self,
        fields: Vec<(String, Value)>,
        at_ms: f64,
        key: Option<&str>,
    ) -> Result<Published, StoreError> {
        let mut c = self.conn().await?;
        // The key's value: `<seq> <ms> <entry fingerprint>` (older ones have no fingerprint);
        // without a key nothing is remembered, so nothing is hashed.
        let print = key.map(|_| entry_fingerprint(&fields)).unwrap_or_default();
        // The entry's JSON as the feed writes it, less its leading `{"seq":N`.
        let line = feed::entry_json(&feed::Entry { seq: 0, at_ms, fields });
        let tail = &line[line.find(',').unwrap_or(line.len())..];
        let idem = key.map(|k| self.key(&format!("key:{k}")));
        let reply: redis::RedisResult<(String, i64)> = self
            .publish
            .key(self.key("seq"))
            .key(self.key("entries"))
            .key(idem.clone().unwrap_or_else(|| self.key("seq")))
            .key(self.key("epoch"))
            .arg(tail)
            .arg(self.key("published"))
            .arg(format!("{} {print}", at_ms as i64))
            .arg(IDEMPOTENCY_TTL_SECS)
            .arg(if idem.is_some() { "1" } else { "0" })
            .arg(new_epoch())
            .invoke_async(&mut c)
            .await;
        let (value, replayed) = match reply {
            Ok(r) => r,
            Err(e) => return Err(self.failed(e).await),
        };
        let mut parts = value.split(' ');
        let seq = parts.next().and_then(|s| s.parse::<u64>().ok());
        let at = parts.next().and_then(|s| s.parse::<f64>().ok()).unwrap_or(at_ms);
        let seq = seq.ok_or_else(|| StoreError::Corrupt(format!("redis: the publish script answered '{value}'")))?;
        if replayed == 1 && parts.next().is_some_and(|p| p != print) {
            return Err(key_reused(key.unwrap_or_default(), seq));
        }
        Ok(Published { seq, at_ms: at, replayed: replayed == 1 })
    }

    /// The stored state as one consistent read: epoch, seq, baseline, entries.
    async fn load(&self) -> Result<Option<(String, u64, Option<String>, Vec<String>)>, StoreError> {
        let mut c = self.conn().await?;
        type Raw = (Option<String>, Option<u64>, Option<String>, Vec<String>);
        let got: redis::RedisResult<Raw> = redis::pipe()
            .atomic()
            .get(self.key("epoch"))
            .get(self.key("seq"))
            .get(self.key("baseline"))
            .lrange(self.key("entries"), 0, -1)
            .query_async(&mut c)
            .await;
        match got {
            Ok((None, None, _, _)) => Ok(None),
            Ok((epoch, seq, baseline, entries)) => {
                Ok(Some((epoch.unwrap_or_default(), seq.unwrap_or(0), baseline, entries)))
            }
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn read(&self) -> Result<Option<Feed>, StoreError> {
        self.read_compacted(self.keep).await.map(|r| r.map(|(f, _)| f))
    }

    /// The feed as stored, not compacted (nothing is written).
    pub async fn peek(&self) -> Result<Option<Feed>, StoreError> {
        let Some((epoch, seq, baseline, entries)) = self.load().await? else { return Ok(None) };
        let mut text = String::from("{\"swcacheFeed\":1,\"epoch\":");
        push_json_str(&mut text, &epoch);
        text.push_str(&format!(",\"seq\":{seq}"));
        if let Some(b) = &baseline {
            text.push_str(",\"baseline\":");
            text.push_str(b);
        }
        text.push_str(",\"entries\":[");
        text.push_str(&entries.join(","));
        text.push_str("]}");
        parse_stored(&text, &self.describe()).map(Some)
    }

    /// Reads, compacts to `keep`, trims what compaction dropped; the feed and how many went.
    async fn read_compacted(&self, keep: usize) -> Result<Option<(Feed, usize)>, StoreError> {
        let Some(mut f) = self.peek().await? else { return Ok(None) };
        let dropped = feed::compact(&mut f, keep);
        if dropped > 0 {
            if let Some(b) = &f.baseline {
                let mut json = format!("{{\"seq\":{},\"timestamp\":", b.seq);
                push_json_str(&mut json, &time::iso_string(b.at_ms));
                json.push('}');
                let mut c = self.conn().await?;
                let trimmed: redis::RedisResult<i64> = self
                    .trim
                    .key(self.key("entries"))
                    .key(self.key("baseline"))
                    .arg(b.seq)
                    .arg(json)
                    .invoke_async(&mut c)
                    .await;
                if let Err(e) = trimmed {
                    return Err(self.failed(e).await);
                }
            }
        }
        Ok(Some((f, dropped)))
    }

    pub async fn init(&self) -> Result<Feed, StoreError> {
        let mut c = self.conn().await?;
        self.epoch(&mut c).await?;
        let set: redis::RedisResult<()> =
            redis::cmd("SET").arg(self.key("seq")).arg(0).arg("NX").query_async(&mut c).await;
        if let Err(e) = set {
            return Err(self.failed(e).await);
        }
        Ok(self.peek().await?.unwrap_or(Feed { epoch: String::new(), seq: 0, baseline: None, entries: vec![] }))
    }

    /// See [`super::store::Store::fence`].
    pub async fn fence(&self, epoch: &str, floor: u64, at_ms: f64) -> Result<bool, StoreError> {
        let mut json = format!("{{\"seq\":{floor},\"timestamp\":");
        push_json_str(&mut json, &time::iso_string(at_ms));
        json.push('}');
        let mut c = self.conn().await?;
        let moved: redis::RedisResult<i64> = Script::new(FENCE)
            .key(self.key("epoch"))
            .key(self.key("seq"))
            .key(self.key("baseline"))
            .key(self.key("entries"))
            .arg(epoch)
            .arg(floor)
            .arg(json)
            .invoke_async(&mut c)
            .await;
        match moved {
            Ok(n) => Ok(n == 1),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn compact(&self, keep: usize) -> Result<usize, StoreError> {
        Ok(self.read_compacted(keep).await?.map_or(0, |(_, n)| n))
    }

    /// What Redis says of its persistence: `(appendonly, appendfsync)`, when it tells. An
    /// error: Redis requires a password the URL does not give (nothing would work).
    pub async fn durability(&self) -> Result<Option<(String, String)>, StoreError> {
        let mut c = match self.conn().await {
            Ok(c) => c,
            Err(StoreError::Config(m)) => return Err(StoreError::Config(m)),
            Err(_) => return Ok(None),
        };
        let ao = config_get(&mut c, "appendonly").await?;
        let fsync = config_get(&mut c, "appendfsync").await?;
        Ok(ao.zip(fsync))
    }

    /// Follows the announcement channel in the background (from the first call on),
    /// resubscribing after a lost connection; each announcement (and each resubscription,
    /// since announcements may have been missed meanwhile) wakes the waiter.
    pub async fn changed(&self, max: Duration) {
        self.follow.call_once(|| {
            let client = self.client.clone();
            let channel = self.key("published");
            let news = self.news.clone();
            tokio::spawn(async move {
                // A refusal is said once (until a subscription works again): an ACL user
                // without the channel is refused every 200 ms.
                let mut said = false;
                loop {
                    if let Ok(mut ps) = client.get_async_pubsub().await {
                        match ps.subscribe(&channel).await {
                            Ok(()) => {
                                said = false;
                                news.notify_one();
                                let mut messages = ps.on_message();
                                while messages.next().await.is_some() {
                                    news.notify_one();
                                }
                            }
                            Err(e) if !said && !e.is_io_error() && !e.is_connection_dropped() => {
                                said = true;
                                tracing::warn!(
                                    error = %e,
                                    "Redis refused the subscription to {channel}: entries other instances publish reach this one's live clients only at its next read of the store (within a second); an ACL user needs the channel: ACL SETUSER <user> &{channel}"
                                );
                            }
                            Err(_) => {}
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        });
        let _ = tokio::time::timeout(max, self.news.notified()).await;
    }
}
