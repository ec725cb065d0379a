//! A server's LRU cache of request keys: a hit is served with the class's hit time, a miss
//! with its miss time and inserts the key, evicting the least recently used one.
//!
//! O(log K) per access: a `BTreeMap` from key to slot plus an intrusive doubly linked list
//! over a slab of `K` slots (no allocation after the cache fills; deterministic order).

use std::collections::BTreeMap;

const NIL: u32 = u32::MAX;

/// An LRU set of `u64` keys with a fixed capacity.
pub struct Lru {
    capacity: usize,
    index: BTreeMap<u64, u32>,
    keys: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32, // most recently used
    tail: u32, // least recently used
}

impl Lru {
    /// An empty cache holding at most `capacity ≥ 1` keys.
    pub fn new(capacity: usize) -> Lru {
        let capacity = capacity.max(1);
        Lru {
            capacity,
            index: BTreeMap::new(),
            keys: Vec::new(),
            prev: Vec::new(),
            next: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p != NIL {
            self.next[p as usize] = n
        } else {
            self.head = n
        }
        if n != NIL {
            self.prev[n as usize] = p
        } else {
            self.tail = p
        }
    }

    fn push_front(&mut self, s: u32) {
        self.prev[s as usize] = NIL;
        self.next[s as usize] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    /// Looks `key` up: `true` on a hit (it becomes most recently used); on a miss it is
    /// inserted, evicting the least recently used key if full.
    pub fn access(&mut self, key: u64) -> bool {
        if let Some(&s) = self.index.get(&key) {
            if self.head != s {
                self.unlink(s);
                self.push_front(s);
            }
            return true;
        }
        let s = if self.keys.len() < self.capacity {
            self.keys.push(key);
            self.prev.push(NIL);
            self.next.push(NIL);
            (self.keys.len() - 1) as u32
        } else {
            let s = self.tail;
            self.unlink(s);
            self.index.remove(&self.keys[s as usize]);
            self.keys[s as usize] = key;
            s
        };
        self.index.insert(key, s);
        self.push_front(s);
        false
    }

    /// Drops every key (a server restart).
    pub fn clear(&mut self) {
        self.index.clear();
        self.keys.clear();
        self.prev.clear();
        self.next.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut c = Lru::new(2);
        assert!(!c.access(1));
        assert!(!c.access(2));
        assert!(c.access(1)); // 1 is now most recent
        assert!(!c.access(3)); // evicts 2
        assert!(c.access(1));
        assert!(!c.access(2)); // 2 was evicted; evicts 3
        assert!(!c.access(3));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn hit_ratio_of_a_uniform_workload_is_capacity_over_keys() {
        // Independent reference model with uniform popularity: the LRU hit ratio is K/N.
        let mut c = Lru::new(100);
        let mut rng = crate::engine::SeedTree::new(3).stream(0, "lru");
        let n = 200_000;
        let hits = (0..n).filter(|_| c.access(rng.below(1000))).count();
        let ratio = hits as f64 / n as f64;
        // sd of a Bernoulli(0.1) mean over 2e5 draws is 0.00067 (draws are nearly
        // independent); 5 sd ≈ 0.0034, plus warm-up (100 misses) of 0.0005.
        assert!((ratio - 0.1).abs() < 0.004, "{ratio}");
    }
}
