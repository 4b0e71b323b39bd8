//! Small containers that keep the worker's wasm lean: a single-threaded global (std's
//! `thread_local!` costs ~0.5 KB of code per access site here) and a map kept as a short
//! list (an operation holds a handful of responses; a hash table costs ~6 KB of code).

use ::core::cell::RefCell;

use crate::policy::prelude::*;

/// A global of the worker's single thread, with `RefCell`'s borrow checks.
pub(super) struct Local<T>(RefCell<T>);

#[allow(unsafe_code, reason = "a `static` needs `Sync`; the worker's wasm has one thread")]
// SAFETY: wasm32-unknown-unknown without atomics runs one thread: no second thread can
// reach the value, and `RefCell` checks the borrows of the one there is.
unsafe impl<T> Sync for Local<T> {}

impl<T> Local<T> {
    pub(super) const fn new(v: T) -> Self {
        Local(RefCell::new(v))
    }

    pub(super) fn with_borrow<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.borrow())
    }

    pub(super) fn with_borrow_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }

    pub(super) fn set(&self, v: T) {
        *self.0.borrow_mut() = v;
    }
}

/// A map as a list of pairs, for the few entries an operation or the worker holds.
pub(super) struct Map<K, V>(Vec<(K, V)>);

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map(Vec::new())
    }
}

impl<K: PartialEq, V> Map<K, V> {
    pub(super) fn get<Q: PartialEq<K> + ?Sized>(&self, k: &Q) -> Option<&V> {
        self.0.iter().find(|(key, _)| *k == *key).map(|(_, v)| v)
    }

    pub(super) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.0.iter_mut().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    pub(super) fn insert(&mut self, k: K, v: V) {
        match self.get_mut(&k) {
            Some(slot) => *slot = v,
            None => self.0.push((k, v)),
        }
    }

    pub(super) fn remove<Q: PartialEq<K> + ?Sized>(&mut self, k: &Q) -> Option<V> {
        let at = self.0.iter().position(|(key, _)| *k == *key)?;
        Some(self.0.swap_remove(at).1)
    }

    pub(super) fn or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        let at = match self.0.iter().position(|(key, _)| *key == k) {
            Some(at) => at,
            None => {
                self.0.push((k, V::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}
