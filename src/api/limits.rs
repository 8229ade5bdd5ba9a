//! Bounds on the cost of analytics (issue 8, item 16): heat-maps, hotspots and emerging
//! hotspots are open to everyone and each can read a whole aggregate, so
//!
//! - requests over the work budget are refused before any work (`too_many_cells`, in the
//!   handlers);
//! - at most [`GateSettings::concurrent`] heavy computations run at once and at most
//!   [`GateSettings::queued`] wait for a slot; any more are refused at once with 503
//!   `analytics_busy` and `Retry-After` ([`AnalyticsGate`]), so that a burst costs a bounded
//!   amount of memory and the rest of the service (`/healthz`, intake) keeps answering;
//! - results kept for reuse are bounded in bytes, least recently used first ([`ByteLru`]).

use std::hash::Hash;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashlink::LruCache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;

/// How many heavy analytics requests run and wait at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSettings {
    /// Computations running at once (each holds a blocking thread and its working memory).
    pub concurrent: usize,
    /// Requests waiting for a slot; beyond that, 503.
    pub queued: usize,
    /// What `Retry-After` tells a refused client, seconds.
    pub retry_after_secs: u32,
}

impl Default for GateSettings {
    /// One computation per core, four waiting per core: a heavy request takes well under a
    /// second once admitted, so a waiting one is served within a few seconds.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            concurrent: cores,
            queued: 4 * cores,
            retry_after_secs: 2,
        }
    }
}

/// Admission to heavy analytics work: a semaphore with a bounded queue in front of it.
#[derive(Debug)]
pub struct AnalyticsGate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    settings: GateSettings,
}

/// Counts a request as waiting until it is admitted, refused or dropped (a client that
/// hangs up while queued frees its place).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AnalyticsGate {
    pub fn new(settings: GateSettings) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(settings.concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            settings,
        }
    }

    /// A slot for one heavy computation, held until the permit is dropped; waits in the
    /// queue when all slots are taken, and is refused with `analytics_busy` when the queue
    /// is full too.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.settings.queued {
            return Err(ApiError::Busy {
                retry_after_secs: self.settings.retry_after_secs,
            });
        }
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(format!("analytics gate closed: {e}")))
    }
}

impl Default for AnalyticsGate {
    fn default() -> Self {
        Self::new(GateSettings::default())
    }
}

/// What an entry of a [`ByteLru`] costs in memory, approximately (its heap allocations).
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

/// A cache of shared values bounded by their total size in bytes: inserting evicts the
/// least recently used entries until the total fits; a value larger than the whole budget
/// is not kept. Entries older than the cache's time to live are misses.
pub struct ByteLru<K: Hash + Eq, V> {
    inner: Mutex<LruInner<K, V>>,
    budget: usize,
    ttl: std::time::Duration,
}

struct LruInner<K: Hash + Eq, V> {
    entries: LruCache<K, (std::time::Instant, usize, Arc<V>)>,
    bytes: usize,
}

impl<K: Hash + Eq, V: HeapSize> ByteLru<K, V> {
    pub fn new(budget: usize, ttl: std::time::Duration) -> Self {
        Self {
            inner: Mutex::new(LruInner {
                entries: LruCache::new_unbounded(),
                bytes: 0,
            }),
            budget,
            ttl,
        }
    }

    /// The value under `key` if it is younger than the time to live (and marks it used).
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let mut inner = self.inner.lock().ok()?;
        let (at, _, value) = inner.entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Keeps `value` under `key`, evicting the least recently used entries beyond the budget.
    pub fn put(&self, key: K, value: Arc<V>) {
        let size = value.heap_bytes() + std::mem::size_of::<(K, V)>();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some((_, old, _)) = inner.entries.remove(&key) {
            inner.bytes -= old;
        }
        if size > self.budget {
            return;
        }
        while inner.bytes + size > self.budget {
            match inner.entries.remove_lru() {
                Some((_, (_, old, _))) => inner.bytes -= old,
                None => break,
            }
        }
        inner.bytes += size;
        inner
            .entries
            .insert(key, (std::time::Instant::now(), size, value));
    }

    /// The bytes held now (at most the budget).
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);

    impl HeapSize for Blob {
        fn heap_bytes(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn the_cache_evicts_the_least_recently_used_beyond_its_byte_budget() {
        let overhead = std::mem::size_of::<(u32, Blob)>();
        let cache = ByteLru::new(3 * (100 + overhead), std::time::Duration::from_secs(60));
        for k in 0..3 {
            cache.put(k, Arc::new(Blob(100)));
        }
        assert!(cache.get(&0).is_some(), "0 is now the most recently used");
        cache.put(3, Arc::new(Blob(100)));
        assert!(cache.get(&1).is_none(), "1 was the least recently used");
        assert!(cache.get(&0).is_some() && cache.get(&3).is_some());
        assert!(cache.bytes() <= 3 * (100 + overhead));
        // Larger than the whole budget: not kept, and nothing else is lost for it.
        cache.put(9, Arc::new(Blob(10_000)));
        assert!(cache.get(&9).is_none());
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn entries_expire_after_the_time_to_live() {
        let cache = ByteLru::new(1 << 20, std::time::Duration::ZERO);
        cache.put("k", Arc::new(Blob(1)));
        assert!(cache.get(&"k").is_none());
    }

    #[tokio::test]
    async fn the_gate_queues_up_to_its_limit_then_refuses_with_retry_after() {
        let gate = Arc::new(AnalyticsGate::new(GateSettings {
            concurrent: 1,
            queued: 1,
            retry_after_secs: 7,
        }));
        let running = gate.admit().await.expect("a free slot");
        let queued = tokio::spawn({
            let gate = gate.clone();
            async move { gate.admit().await.map(drop) }
        });
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        match gate.admit().await {
            Err(ApiError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 7),
            other => panic!("expected busy, got {other:?}"),
        }
        drop(running);
        queued
            .await
            .expect("join")
            .expect("admitted once the slot was free");
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }
}
