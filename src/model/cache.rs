//! A server's LRU cache of request keys: a hit is served with the class's hit time, a miss
//! with its miss time and inserts the key, evicting the least recently used one.
//!
//! O(1) per access: an open-addressing index (linear probing, backward-shift deletion)
//! from key to slot plus an intrusive doubly linked list over a slab of `K` slots. The
//! index is never iterated, so its layout cannot leak into results; it grows by doubling
//! while the cache fills and never allocates after that (`tests/alloc.rs`).

const NIL: u32 = u32::MAX;

/// Index position of `key` in a table of `mask + 1` entries (splitmix64's finalizer).
#[inline]
fn home(key: u64, mask: usize) -> usize {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as usize & mask
}

/// An LRU set of `u64` keys with a fixed capacity.
pub struct Lru {
    capacity: usize,
    /// Slot of each key, or `NIL`; a power of two at least twice the number of keys.
    index: Vec<u32>,
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
            index: vec![NIL; 16],
            keys: Vec::new(),
            prev: Vec::new(),
            next: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Index position holding `key`, or the empty position where it would go.
    #[inline]
    fn find(&self, key: u64) -> usize {
        let mask = self.index.len() - 1;
        let mut i = home(key, mask);
        loop {
            let s = self.index[i];
            if s == NIL || self.keys[s as usize] == key {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes the entry at index position `i`, shifting later entries of its probe run
    /// back so that every key stays reachable from its home position.
    fn remove_at(&mut self, mut i: usize) {
        let mask = self.index.len() - 1;
        self.index[i] = NIL;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.index[j];
            if s == NIL {
                return;
            }
            let k = home(self.keys[s as usize], mask);
            // The entry at j may move to i unless its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.index[i] = s;
                self.index[j] = NIL;
                i = j;
            }
        }
    }

    /// Doubles the index and reinserts every key.
    fn grow(&mut self) {
        let len = self.index.len() * 2;
        self.index = vec![NIL; len];
        for s in 0..self.keys.len() {
            let i = self.find(self.keys[s]);
            self.index[i] = s as u32;
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
        let i = self.find(key);
        let s = self.index[i];
        if s != NIL {
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
            let s = (self.keys.len() - 1) as u32;
            if 2 * self.keys.len() > self.index.len() {
                self.grow(); // reinserts the new key too
            } else {
                self.index[i] = s;
            }
            s
        } else {
            let s = self.tail;
            self.unlink(s);
            let old = self.find(self.keys[s as usize]);
            self.remove_at(old);
            self.keys[s as usize] = key;
            // The removal may have shifted entries: look the new key's place up again.
            let i = self.find(key);
            self.index[i] = s;
            s
        };
        self.push_front(s);
        false
    }

    /// Drops every key (a server restart).
    pub fn clear(&mut self) {
        self.index.fill(NIL);
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

    #[test]
    fn agrees_with_a_naive_lru_through_evictions_growth_and_restarts() {
        // Reference: a vector in recency order (front = most recent), O(n) per access.
        let mut rng = crate::engine::SeedTree::new(9).stream(0, "lru-model");
        for (capacity, keys) in [(1, 3), (3, 8), (37, 100), (500, 700), (64, 100_000)] {
            let mut c = Lru::new(capacity);
            let mut model: Vec<u64> = Vec::new();
            for step in 0..40_000 {
                if step % 9_999 == 9_998 {
                    c.clear();
                    model.clear();
                }
                // Keys spread over the whole u64 range and clustered, to exercise probing.
                let k = rng.below(keys);
                let key = if k.is_multiple_of(2) {
                    k
                } else {
                    k.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                };
                let hit = c.access(key);
                let pos = model.iter().position(|&x| x == key);
                assert_eq!(hit, pos.is_some(), "capacity {capacity}, step {step}");
                if let Some(p) = pos {
                    model.remove(p);
                } else if model.len() == capacity {
                    model.pop();
                }
                model.insert(0, key);
                assert_eq!(c.len(), model.len());
            }
        }
    }
}
