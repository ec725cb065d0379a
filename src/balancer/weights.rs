//! Weights laid end to end: which item a weight offset lands on, by division when every
//! weight is the same, else by binary search. nginx's hash modules walk their peers this
//! way (`WeightOffsets`), and rendezvous draws a keyless request's host this way.

/// Each item's end offset (the sum of the weights up to and including it), and the weight
/// they all share.
#[derive(Clone, Debug, Default)]
pub(super) struct Cumulative {
    pub(super) ends: Vec<u64>,
    /// Every item's weight when all are equal and positive, else 0 (search).
    pub(super) uniform: u64,
}

impl Cumulative {
    /// Lays `weights` end to end.
    pub(super) fn fill(&mut self, weights: impl IntoIterator<Item = u32>) {
        self.ends.clear();
        let (mut end, mut first, mut equal) = (0u64, None, true);
        for w in weights {
            let w = u64::from(w);
            equal &= *first.get_or_insert(w) == w;
            end += w;
            self.ends.push(end);
        }
        self.uniform = if equal { first.unwrap_or(0) } else { 0 };
    }

    /// The sum of the weights.
    #[inline]
    pub(super) fn total(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Number of items.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// No items.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The item that offset `w < total` lands on (never a weight-0 item).
    #[inline]
    pub(super) fn at(&self, w: u64) -> usize {
        debug_assert!(w < self.total());
        match self.uniform {
            0 => self.ends.partition_point(|&e| e <= w),
            1 => w as usize,
            u => (w / u) as usize,
        }
    }
}
