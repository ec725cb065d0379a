//! A binary heap of member numbers (pool indices, server ids) that knows where each member
//! is, so that a member whose key changed can be moved, or any member removed, in
//! O(log n). The order is the caller's (`before(a, b)`: `a` comes first), given to every
//! call that moves members, so the keys can live wherever the caller keeps them. Used by
//! nginx `least_conn`'s index (`least_conn_index.rs`) and HAProxy roundrobin's eb32 trees.

/// `pos` of a member that is not in the heap.
pub(super) const OUT: u32 = u32::MAX;

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct IndexedHeap {
    /// Members; the first is the one that comes first.
    heap: Vec<u32>,
    /// Per member number: its position in `heap`, or [`OUT`].
    pos: Vec<u32>,
}

impl IndexedHeap {
    /// Empties the heap, with room for members `0..n` (allocates only to grow).
    pub(super) fn reset(&mut self, n: usize) {
        self.heap.clear();
        self.pos.clear();
        self.pos.resize(n, OUT);
    }

    /// Room for `n` members without allocating.
    pub(super) fn reserve(&mut self, n: usize) {
        self.heap.reserve(n.saturating_sub(self.heap.len()));
    }

    /// The member that comes first.
    #[inline]
    pub(super) fn first(&self) -> Option<u32> {
        self.heap.first().copied()
    }

    /// Where member `x` is: `None` if it was never numbered, `Some(OUT)` if it is out.
    #[inline]
    pub(super) fn pos(&self, x: u32) -> Option<u32> {
        self.pos.get(x as usize).copied()
    }

    /// Every member number that has a place (in or out) and its position.
    pub(super) fn positions(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.pos.iter().copied().enumerate()
    }

    /// Adds member `x` (not already in).
    pub(super) fn push(&mut self, x: u32, before: impl Fn(u32, u32) -> bool) {
        if x as usize >= self.pos.len() {
            self.pos.resize(x as usize + 1, OUT);
        }
        debug_assert_eq!(self.pos[x as usize], OUT, "member {x} pushed twice");
        self.heap.push(x);
        self.sift_up(self.heap.len() - 1, before);
    }

    /// Removes member `x` if it is in.
    pub(super) fn remove(&mut self, x: u32, before: impl Fn(u32, u32) -> bool) {
        let Some(at) = self.pos(x).filter(|&p| p != OUT) else {
            return;
        };
        self.pos[x as usize] = OUT;
        let last = self.heap.pop().expect("a member is in the heap");
        if (at as usize) < self.heap.len() {
            self.heap[at as usize] = last;
            self.pos[last as usize] = at;
            self.sift_up(at as usize, &before);
            self.sift_down(self.pos[last as usize] as usize, before);
        }
    }

    /// Moves member `x` up: its key now comes earlier.
    #[inline]
    pub(super) fn raised(&mut self, x: u32, before: impl Fn(u32, u32) -> bool) {
        self.sift_up(self.pos[x as usize] as usize, before);
    }

    /// Moves member `x` down: its key now comes later.
    #[inline]
    pub(super) fn lowered(&mut self, x: u32, before: impl Fn(u32, u32) -> bool) {
        self.sift_down(self.pos[x as usize] as usize, before);
    }

    #[inline]
    fn sift_up(&mut self, mut at: usize, before: impl Fn(u32, u32) -> bool) {
        let x = self.heap[at];
        while at > 0 {
            let parent = (at - 1) / 2;
            let p = self.heap[parent];
            if !before(x, p) {
                break;
            }
            self.heap[at] = p;
            self.pos[p as usize] = at as u32;
            at = parent;
        }
        self.heap[at] = x;
        self.pos[x as usize] = at as u32;
    }

    #[inline]
    fn sift_down(&mut self, mut at: usize, before: impl Fn(u32, u32) -> bool) {
        let n = self.heap.len();
        let x = self.heap[at];
        loop {
            let l = 2 * at + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && before(self.heap[r], self.heap[l]) {
                r
            } else {
                l
            };
            let y = self.heap[c];
            if !before(y, x) {
                break;
            }
            self.heap[at] = y;
            self.pos[y as usize] = at as u32;
            at = c;
        }
        self.heap[at] = x;
        self.pos[x as usize] = at as u32;
    }
}
