//! The attempts a server's workers hold: the first few inline, in the server's own cache
//! line, the rest in a spill vector. A `Vec` in their place cost every request two more
//! cache misses in a 1,024-server pool (its buffer lives elsewhere).

/// Workers kept inline; most servers have this many slots or fewer.
const INLINE: usize = 4;

/// A list of attempt ids kept exactly in the order a `Vec` would keep them under `push`
/// and `swap_remove` (a crash resets them in that order, so the order is part of a run's
/// result).
#[derive(Default)]
pub(super) struct Workers {
    inline: [u32; INLINE],
    len: u32,
    /// Elements from `INLINE` on (allocated for servers with more slots than that).
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer: 8 bytes in the server's second cache line, not a Vec's 24"
    )]
    spill: Option<Box<Vec<u32>>>,
}

impl Workers {
    /// Room for `slots` workers (beyond the inline ones, up to 1,024 reserved).
    pub(super) fn with_slots(slots: u32) -> Workers {
        let extra = (slots as usize).saturating_sub(INLINE).min(1024);
        Workers {
            spill: (extra > 0).then(|| Box::new(Vec::with_capacity(extra))),
            ..Workers::default()
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    fn set(&mut self, i: usize, a: u32) {
        if i < INLINE {
            self.inline[i] = a;
        } else {
            self.spill.as_mut().expect("spilled workers")[i - INLINE] = a;
        }
    }

    #[inline]
    pub(super) fn push(&mut self, a: u32) {
        let n = self.len as usize;
        if n < INLINE {
            self.inline[n] = a;
        } else {
            self.spill.get_or_insert_with(Box::default).push(a);
        }
        self.len += 1;
    }

    /// Removes the last element.
    #[inline]
    fn pop(&mut self) -> Option<u32> {
        let n = self.len as usize;
        if n == 0 {
            return None;
        }
        self.len -= 1;
        if n > INLINE {
            self.spill.as_mut().and_then(|s| s.pop())
        } else {
            Some(self.inline[n - 1])
        }
    }

    /// Removes `a` as `Vec::swap_remove` would (the last element takes its place); false
    /// if it is not held.
    #[inline]
    pub(super) fn remove(&mut self, a: u32) -> bool {
        let Some(i) = self.iter().position(|x| x == a) else {
            return false;
        };
        let last = self.pop().expect("not empty");
        if i < self.len as usize {
            self.set(i, last);
        }
        true
    }

    /// The held attempts, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let n = self.len as usize;
        let spill = self.spill.as_deref().map_or(&[][..], |s| &s[..]);
        self.inline[..n.min(INLINE)].iter().chain(spill).copied()
    }

    /// Moves every held attempt, in order, to the end of `out`.
    pub(super) fn drain_into(&mut self, out: &mut Vec<u32>) {
        out.extend(self.iter());
        self.len = 0;
        if let Some(s) = self.spill.as_mut() {
            s.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Workers;
    use crate::engine::SimRng;

    /// Pushes and removals, at and beyond the inline size: always the `Vec`'s order.
    #[test]
    fn keeps_a_vecs_order() {
        for slots in [1u32, 3, 4, 5, 9, 40] {
            let mut rng = SimRng::from_seed_u64(u64::from(slots));
            let mut w = Workers::with_slots(slots);
            let mut v: Vec<u32> = Vec::new();
            let mut next = 0;
            for _ in 0..5_000 {
                if v.len() < slots as usize && (v.is_empty() || rng.below(2) == 0) {
                    w.push(next);
                    v.push(next);
                    next += 1;
                } else {
                    // Sometimes an id that is not held.
                    let a = if rng.below(8) == 0 {
                        u32::MAX
                    } else {
                        v[rng.below(v.len() as u64) as usize]
                    };
                    let held = v.iter().position(|&x| x == a).map(|i| v.swap_remove(i));
                    assert_eq!(w.remove(a), held.is_some());
                }
                assert_eq!(w.len(), v.len());
                assert!(w.iter().eq(v.iter().copied()), "slots {slots}");
            }
            let mut out = vec![7];
            w.drain_into(&mut out);
            assert_eq!(out[1..], v[..]);
            assert_eq!(w.len(), 0);
            assert_eq!(w.iter().count(), 0);
        }
    }
}
