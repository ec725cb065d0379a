//! Finding a hash's place on a consistent-hashing ring in expected O(1) time.
//!
//! nginx's ketama (`ngx_http_upstream_find_chash_point`) and HAProxy's consistent hash
//! (`eb32_lookup_ge`) find the first ring point whose hash is `≥ h` by a binary search or a
//! tree walk: O(log p) for p points, which at 1,024 servers (163,840 ketama points) is
//! 17–18 dependent steps, most of them cache misses. Ring hashes are uniform, so the ring
//! is cut into `2^k` equal ranges of the 32-bit hash space, about [`POINTS_PER_RANGE`]
//! points each, and the index keeps where each range starts. A lookup reads its range's
//! start and end and searches only between them: the same point, in expected constant
//! time.

use crate::engine::prefetch::{When, hint};

/// Points per range, on average: 4 keeps the index a quarter of the ring's length and a
/// lookup within one or two cache lines.
const POINTS_PER_RANGE: usize = 4;

/// Where each range of the hash space starts on a sorted ring (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct RingIndex {
    /// A hash `h` is in range `h >> shift` (as a 64-bit value, so that one range, shift
    /// 32, is range 0).
    shift: u32,
    /// `starts[r]`: the first point whose hash is in range `r` or later; one more entry,
    /// the ring's length, closes the last range.
    starts: Vec<u32>,
}

impl RingIndex {
    /// The index of `ring`, sorted ascending by `hash` (equal hashes allowed).
    pub(crate) fn build<T>(ring: &[T], hash: impl Fn(&T) -> u32) -> RingIndex {
        debug_assert!(ring.is_sorted_by_key(&hash));
        let ranges_log2 = (ring.len() / POINTS_PER_RANGE).max(1).ilog2().min(24);
        let shift = 32 - ranges_log2;
        let ranges = 1usize << ranges_log2;
        let mut starts = Vec::with_capacity(ranges + 1);
        let mut i = 0;
        for r in 0..ranges as u64 {
            let low = r << shift;
            while i < ring.len() && u64::from(hash(&ring[i])) < low {
                i += 1;
            }
            starts.push(i as u32);
        }
        starts.push(ring.len() as u32);
        RingIndex { shift, starts }
    }

    /// The range hash `h` falls in.
    #[inline]
    fn range(&self, h: u32) -> usize {
        (u64::from(h) >> self.shift) as usize
    }

    /// Starts loading what [`find`](RingIndex::find) will read for a key told ahead (see
    /// [`KeysAhead`]): the range of its hash `h` at once, and the points of the range of
    /// `previous`, the hash of the key told before it, whose range start and end are in
    /// cache by now: its first point and its last (about four points of 8 bytes apart,
    /// so the range often ends on the next cache line).
    #[inline]
    pub(crate) fn hint<T>(&self, ring: &[T], h: u32, previous: Option<u32>) {
        if let Some(s) = self.starts.get(self.range(h)) {
            hint(s, When::Soon);
        }
        let Some(r) = previous.map(|p| self.range(p)) else {
            return;
        };
        let (Some(&lo), Some(&hi)) = (self.starts.get(r), self.starts.get(r + 1)) else {
            return;
        };
        if let Some(point) = ring.get(lo as usize) {
            hint(point, When::Soon);
        }
        // A range of several points may end on the next line.
        if hi > lo + 1
            && let Some(point) = ring.get(hi as usize - 1)
        {
            hint(point, When::Soon);
        }
    }

    /// The index of the first point of `ring` (the ring it was built from) whose `hash`
    /// is `≥ h`, or `ring.len()` if none is: `ring.partition_point(|p| hash(p) < h)`.
    #[inline]
    pub(crate) fn find<T>(&self, ring: &[T], hash: impl Fn(&T) -> u32, h: u32) -> usize {
        debug_assert_eq!(self.starts.last().map(|&n| n as usize), Some(ring.len()));
        let r = self.range(h);
        let (lo, hi) = (self.starts[r] as usize, self.starts[r + 1] as usize);
        lo + ring[lo..hi].partition_point(|p| hash(p) < h)
    }
}

/// The keys a ring balancer was told of ahead ([`Balancer::hint_key`]) and their hashes,
/// newest last. Each told key is looked up in two stages, one hint apart: its range's
/// start when it is told, its ring point when the next key is told. Its pick, one hint
/// later still, finds both in cache and takes its hash from here instead of hashing the
/// key again.
///
/// [`Balancer::hint_key`]: super::Balancer::hint_key
#[derive(Clone, Debug, Default)]
pub(crate) struct KeysAhead {
    told: [Option<(u64, u32)>; 3],
}

impl KeysAhead {
    /// Records `key`, hashed to `h`; returns the hash of the key told just before it,
    /// whose ring point is the one to load now.
    pub(crate) fn tell(&mut self, key: u64, h: u32) -> Option<u32> {
        let previous = self.told[2].map(|(_, h)| h);
        self.told = [self.told[1], self.told[2], Some((key, h))];
        previous
    }

    /// The hash of `key` if it is one of the last three told.
    #[inline]
    pub(crate) fn hash_of(&self, key: u64) -> Option<u32> {
        self.told.iter().flatten().find(|t| t.0 == key).map(|t| t.1)
    }
}

#[cfg(test)]
mod tests {
    use super::RingIndex;
    use crate::engine::SimRng;

    /// Every lookup agrees with a binary search over the whole ring: empty, tiny, with
    /// runs of equal hashes, with points at 0 and `u32::MAX`, and at the edges of ranges.
    #[test]
    fn finds_what_a_binary_search_finds() {
        let mut rng = SimRng::from_seed_u64(7);
        let mut rings: Vec<Vec<u32>> = vec![
            vec![],
            vec![5],
            vec![0, u32::MAX],
            vec![7; 40],
            (0..1000).map(|i| i * 4_000_000).collect(),
        ];
        for n in [3, 17, 160, 2560, 163_840] {
            rings.push((0..n).map(|_| rng.below(1 << 32) as u32).collect());
        }
        // A skewed ring: every point in the lowest 1/1000 of the space.
        rings.push((0..5000).map(|_| rng.below(4_294_967) as u32).collect());
        for mut ring in rings {
            ring.sort_unstable();
            let index = RingIndex::build(&ring, |&p| p);
            let mut probes: Vec<u32> = vec![0, 1, u32::MAX, u32::MAX - 1];
            probes.extend(
                ring.iter()
                    .flat_map(|&p| [p, p.wrapping_sub(1), p.wrapping_add(1)]),
            );
            let shift = index.shift;
            if shift < 32 {
                let edges = 1u64 << (32 - shift);
                probes.extend((0..edges.min(5000)).map(|r| ((r << shift) as u32).wrapping_sub(1)));
                probes.extend((0..edges.min(5000)).map(|r| (r << shift) as u32));
            }
            probes.extend((0..2000).map(|_| rng.below(1 << 32) as u32));
            for h in probes {
                assert_eq!(
                    index.find(&ring, |&p| p, h),
                    ring.partition_point(|&p| p < h),
                    "ring of {} points, h = {h}",
                    ring.len()
                );
            }
        }
    }

    /// The index has about a quarter as many ranges as the ring has points, so it stays
    /// small beside the ring and a range holds a handful of points.
    #[test]
    fn ranges_hold_a_few_points_each() {
        let mut rng = SimRng::from_seed_u64(3);
        let mut ring: Vec<u32> = (0..163_840).map(|_| rng.below(1 << 32) as u32).collect();
        ring.sort_unstable();
        let index = RingIndex::build(&ring, |&p| p);
        let ranges = index.starts.len() - 1;
        assert_eq!(ranges, 1 << 15);
        let widest = index.starts.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        // Poisson(5) over 32,768 ranges: the widest is rarely above 20.
        assert!(widest <= 24, "widest range {widest}");
    }
}
