//! HAProxy `balance roundrobin`: the dynamic "fast weighted round robin" of `lb_fwrr.c`.
//! It is not nginx's smooth WRR: each server gets a *position* in a window of Σeweight
//! slots and servers are served in position order, which gives weights 5,1,1 the order
//! `a a a b a a c` (nginx gives `a a b a c a a`). Servers can change weight or go up and
//! down without rebuilding anything: they are requeued at their next position.

use super::eb_tree::EbTree;
use super::{AlgorithmInfo, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "haproxy-roundrobin",
    aliases: &["haproxy-rr"],
    summary: "HAProxy balance roundrobin (fast weighted RR by positions): weights 5,1,1 give a a a b a a c",
    source: "HAProxy src/lb_fwrr.c (fwrr_get_next_server, fwrr_update_position, fwrr_queue_srv)",
    params: &[],
    build: |_, _| Box::new(HaproxyRoundRobin::new()),
}];

/// HAProxy's `BE_WEIGHT_SCALE`: `eweight = weight × 16`.
const BE_WEIGHT_SCALE: i64 = 16;
/// HAProxy's `SRV_UWGHT_RANGE` (largest user weight 256).
const SRV_UWGHT_RANGE: i64 = 256;
/// HAProxy's `SRV_EWGHT_MAX = SRV_UWGHT_RANGE × BE_WEIGHT_SCALE` (4096).
const SRV_EWGHT_MAX: i64 = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE;

/// Which tree a server was last queued in (HAProxy's `srv->lb_tree`).
///
/// `T0`/`T1` are the two weight-ordered trees; which of them is `init` and which is `next`
/// swaps at every window switch, exactly like HAProxy's `grp->init`/`grp->next` pointers,
/// so a server queued in `next` finds itself in `init` after a switch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum TreeId {
    None,
    Curr,
    T0,
    T1,
}

/// Per-server FWRR state (fields of HAProxy's `struct server`).
#[derive(Copy, Clone, Debug)]
struct Srv {
    id: u32,
    /// Whether the server is in the trees (`srv_currently_usable`).
    usable: bool,
    /// `cur_eweight`: configured weight × 16.
    eweight: i64,
    /// The tree it was last queued in (kept after a dequeue, as in HAProxy).
    tree: TreeId,
    /// Next position in the window.
    npos: i64,
    /// Last position.
    lpos: i64,
    /// Accumulated remainder of `next_weight / eweight`.
    rweight: i64,
}

impl Srv {
    fn fresh(id: u32) -> Srv {
        Srv {
            id,
            usable: false,
            eweight: 0,
            tree: TreeId::None,
            npos: 0,
            lpos: 0,
            rweight: 0,
        }
    }
}

/// HAProxy `balance roundrobin` (fast weighted round robin).
///
/// Follows `fwrr_get_next_server` and its helpers in HAProxy `src/lb_fwrr.c` for the
/// active server group (this model has no backup servers and no `maxconn` queueing, so
/// no server is ever saturated or avoided). Each usable server has `eweight = weight × 16`
/// (`BE_WEIGHT_SCALE`) and sits in one of three trees: `init` (not yet served in this
/// window, ordered heaviest first, ties in insertion order), `curr` (ordered by next
/// position `npos`, then by `(4096 + rweight − eweight)/16`), or `next` (deferred to the
/// next window). The group keeps `curr_pos`, `curr_weight` and `next_weight` (Σeweight).
///
/// A pick takes the first server of `curr` if its `npos ≤ curr_pos`, else the first of
/// `init` (reset to `npos = rweight = 0`), else the first of `curr` even if it is ahead;
/// if all trees are empty it swaps `init` and `next` (`curr_pos = curr_weight =
/// next_weight`) and tries once more. The chosen server advances by `npos += next_weight /
/// eweight` (plus one when the accumulated remainder `rweight` reaches `eweight`), and
/// `curr_pos` by one; it is requeued in `next` (with `npos −= curr_weight`) if `npos ≥
/// 2·curr_weight` or `npos ≥ curr_weight + next_weight`, else in `curr`. Weights 5,1,1 give
/// `a a a b a a c`, 4,2,1 give `a a b a c a b`, 3,2,1 give `a b a c a b`, 2,1 give `a a b`.
///
/// Pool changes are applied the way HAProxy applies server events, keyed by backend id,
/// so the rotation is *not* reset: a backend that becomes ineligible (down, weight 0, or
/// removed) leaves the trees and `next_weight` (`fwrr_set_server_status_down`); one that
/// becomes eligible (or is added) is queued at `npos = curr_pos + (next_weight +
/// curr_weight − curr_pos) / eweight` (`fwrr_set_server_status_up`); a weight change of an
/// eligible backend moves it as `fwrr_update_server_weight` does. Changes are applied in id
/// order (removals first). The very first pool seen is loaded like
/// `fwrr_init_server_groups`: every eligible server in `init`, `curr_pos = curr_weight =
/// next_weight = Σeweight`.
///
/// Defaults: no parameters. HAProxy limits weights to 0–256; larger weights are accepted
/// here, with the `curr` key generalised to a `(npos, sub-key)` pair (identical ordering
/// for weights ≤ 256).
#[derive(Clone, Debug)]
pub struct HaproxyRoundRobin {
    /// Per-server state, in pool (id) order.
    srv: Vec<Srv>,
    /// Scratch for rebuilding `srv` on pool changes.
    scratch: Vec<Srv>,
    /// Whether the groups were initialised (`fwrr_init_server_groups`).
    initialized: bool,
    curr: EbTree,
    t0: EbTree,
    t1: EbTree,
    /// True when `t1` is `init` (and `t0` is `next`).
    init_is_t1: bool,
    curr_pos: i64,
    curr_weight: i64,
    next_weight: i64,
}

impl Default for HaproxyRoundRobin {
    fn default() -> Self {
        Self::new()
    }
}

impl HaproxyRoundRobin {
    /// A balancer that has seen no pool yet.
    pub fn new() -> Self {
        HaproxyRoundRobin {
            srv: Vec::new(),
            scratch: Vec::new(),
            initialized: false,
            curr: EbTree::default(),
            t0: EbTree::default(),
            t1: EbTree::default(),
            init_is_t1: false,
            curr_pos: 0,
            curr_weight: 0,
            next_weight: 0,
        }
    }

    fn init_id(&self) -> TreeId {
        if self.init_is_t1 {
            TreeId::T1
        } else {
            TreeId::T0
        }
    }

    fn next_id(&self) -> TreeId {
        if self.init_is_t1 {
            TreeId::T0
        } else {
            TreeId::T1
        }
    }

    fn tree_mut(&mut self, t: TreeId) -> Option<&mut EbTree> {
        match t {
            TreeId::None => None,
            TreeId::Curr => Some(&mut self.curr),
            TreeId::T0 => Some(&mut self.t0),
            TreeId::T1 => Some(&mut self.t1),
        }
    }

    fn tree(&self, t: TreeId) -> Option<&EbTree> {
        match t {
            TreeId::None => None,
            TreeId::Curr => Some(&self.curr),
            TreeId::T0 => Some(&self.t0),
            TreeId::T1 => Some(&self.t1),
        }
    }

    /// Slot of the server with this id (every id in a tree is in `srv`).
    fn slot(&self, id: u32) -> usize {
        super::index_by_id(&self.srv, id, |s| s.id).expect("queued server is known")
    }

    /// `fwrr_init_server_groups`: every eligible server into `init`, by weight.
    fn init_groups(&mut self, pool: &PoolView<'_>) {
        self.srv.clear();
        self.curr.clear();
        self.t0.clear();
        self.t1.clear();
        self.init_is_t1 = false;
        let mut total = 0;
        for b in pool.backends {
            let mut s = Srv::fresh(b.id);
            s.eweight = i64::from(b.weight) * BE_WEIGHT_SCALE;
            if b.eligible() {
                s.usable = true;
                total += s.eweight;
            }
            self.srv.push(s);
        }
        self.curr_pos = total;
        self.curr_weight = total;
        self.next_weight = total;
        for slot in 0..self.srv.len() {
            if self.srv[slot].usable {
                self.queue_by_weight(self.init_id(), slot);
            }
        }
        self.initialized = true;
        self.reserve();
    }

    fn reserve(&mut self) {
        let n = self.srv.len();
        self.curr.reserve_for(n);
        self.t0.reserve_for(n);
        self.t1.reserve_for(n);
    }

    /// `fwrr_dequeue_srv`: out of its tree; `tree` still names it, as `lb_tree` does.
    fn dequeue(&mut self, slot: usize) {
        let Srv { id, tree, .. } = self.srv[slot];
        if let Some(t) = self.tree_mut(tree) {
            t.remove(id);
        }
    }

    /// `fwrr_queue_by_weight`: into a weight tree, heaviest first.
    fn queue_by_weight(&mut self, t: TreeId, slot: usize) {
        let Srv { id, eweight, .. } = self.srv[slot];
        if let Some(tree) = self.tree_mut(t) {
            tree.insert((SRV_EWGHT_MAX - eweight, 0), id);
        }
        self.srv[slot].tree = t;
    }

    /// `fwrr_queue_srv`: into `next` if beyond the window, else into `curr` by position.
    fn queue_srv(&mut self, slot: usize) {
        let s = self.srv[slot];
        if !s.usable || s.eweight <= 0 {
            self.srv[slot].tree = TreeId::None;
        } else if s.npos >= 2 * self.curr_weight || s.npos >= self.curr_weight + self.next_weight {
            self.srv[slot].npos -= self.curr_weight;
            self.queue_by_weight(self.next_id(), slot);
        } else {
            let sub = (SRV_EWGHT_MAX + s.rweight - s.eweight).div_euclid(BE_WEIGHT_SCALE);
            self.curr.insert((s.npos, sub), s.id);
            self.srv[slot].tree = TreeId::Curr;
        }
    }

    /// `fwrr_get_srv`: adjust `npos` for the tree the server is leaving.
    fn get_srv(&mut self, slot: usize) {
        let tree = self.srv[slot].tree;
        if tree == self.init_id() {
            self.srv[slot].npos = 0;
            self.srv[slot].rweight = 0;
        } else if tree == self.next_id() {
            self.srv[slot].npos += self.curr_weight;
        } else if tree == TreeId::None {
            self.srv[slot].npos = self.curr_pos;
        }
    }

    /// `fwrr_switch_trees`.
    fn switch_trees(&mut self) {
        self.init_is_t1 = !self.init_is_t1;
        self.curr_weight = self.next_weight;
        self.curr_pos = self.curr_weight;
    }

    /// `fwrr_get_server_from_group`.
    fn server_from_group(&mut self) -> Option<usize> {
        let s1 = self.curr.first().map(|id| self.slot(id));
        if let Some(s1) = s1 {
            let s = self.srv[s1];
            if s.eweight > 0 && s.npos <= self.curr_pos {
                return Some(s1);
            }
        }
        let init_first = self.tree(self.init_id()).and_then(EbTree::first);
        if let Some(id) = init_first {
            let s2 = self.slot(id);
            if self.srv[s2].eweight > 0 {
                self.srv[s2].npos = 0;
                self.srv[s2].rweight = 0;
                return Some(s2);
            }
        }
        s1
    }

    /// `fwrr_update_position`.
    fn update_position(&mut self, slot: usize) {
        let next_weight = self.next_weight;
        let curr_pos = self.curr_pos;
        let s = &mut self.srv[slot];
        let ew = s.eweight;
        if ew <= 0 {
            return;
        }
        if s.npos == 0 {
            s.npos = curr_pos;
        }
        s.lpos = s.npos;
        s.npos += next_weight / ew;
        s.rweight += next_weight % ew;
        if s.rweight >= ew {
            s.rweight -= ew;
            s.npos += 1;
        }
    }

    /// `fwrr_set_server_status_down` for a usable server.
    fn status_down(&mut self, slot: usize) {
        self.next_weight -= self.srv[slot].eweight;
        self.dequeue(slot);
        self.srv[slot].tree = TreeId::None;
        self.srv[slot].usable = false;
    }

    /// `fwrr_set_server_status_up` for a server that was not usable.
    fn status_up(&mut self, slot: usize, eweight: i64) {
        self.next_weight += eweight;
        self.get_srv(slot);
        let s = &mut self.srv[slot];
        s.usable = true;
        s.eweight = eweight;
        s.npos = self.curr_pos + (self.next_weight + self.curr_weight - self.curr_pos) / eweight;
        self.queue_srv(slot);
    }

    /// `fwrr_update_server_weight` for a server usable before and after.
    fn update_weight(&mut self, slot: usize, eweight: i64) {
        let old = self.srv[slot].eweight;
        self.next_weight = self.next_weight - old + eweight;
        let tree = self.srv[slot].tree;
        if tree == self.init_id() {
            self.dequeue(slot);
            self.srv[slot].eweight = eweight;
            self.queue_by_weight(tree, slot);
        } else if tree == TreeId::None {
            self.dequeue(slot);
            self.get_srv(slot);
            self.srv[slot].npos =
                self.curr_pos + (self.next_weight + self.curr_weight - self.curr_pos) / eweight;
            self.srv[slot].eweight = eweight;
            self.queue_srv(slot);
        } else {
            self.get_srv(slot);
            let step = self.next_weight / eweight;
            let s = &mut self.srv[slot];
            let prev_next = s.npos;
            s.npos = s.lpos + step;
            s.rweight = 0;
            if s.npos > prev_next {
                s.npos = prev_next;
            }
            if s.npos < self.curr_pos + 2 {
                s.npos = self.curr_pos + step;
            }
            self.dequeue(slot);
            self.srv[slot].eweight = eweight;
            self.queue_srv(slot);
        }
    }

    /// Applies the difference between the known servers and `pool` as HAProxy server
    /// events (or initialises the groups the first time).
    fn sync(&mut self, pool: &PoolView<'_>) {
        if !self.initialized {
            self.init_groups(pool);
            return;
        }
        // Removed servers go down first.
        for k in 0..self.srv.len() {
            let s = self.srv[k];
            let present = pool.backends.binary_search_by_key(&s.id, |b| b.id).is_ok();
            if !present && s.usable {
                self.status_down(k);
            }
        }
        // The new server list, carrying state over by id.
        let mut next = std::mem::take(&mut self.scratch);
        next.clear();
        for b in pool.backends {
            let s = match self.srv.binary_search_by_key(&b.id, |s| s.id) {
                Ok(k) => self.srv[k],
                Err(_) => Srv::fresh(b.id),
            };
            next.push(s);
        }
        self.scratch = std::mem::replace(&mut self.srv, next);
        // Then every server's own transition, in id order.
        for (slot, b) in pool.backends.iter().enumerate() {
            let s = self.srv[slot];
            let ew = i64::from(b.weight) * BE_WEIGHT_SCALE;
            match (s.usable, b.eligible()) {
                (false, false) => self.srv[slot].eweight = ew,
                (false, true) => self.status_up(slot, ew),
                (true, false) => {
                    self.status_down(slot);
                    self.srv[slot].eweight = ew;
                }
                (true, true) if ew != s.eweight => self.update_weight(slot, ew),
                (true, true) => {}
            }
        }
        self.reserve();
    }

    /// One `fwrr_get_next_server` (no saturation, nothing to avoid).
    fn next_server(&mut self) -> Option<usize> {
        if self.curr_weight == 0 {
            self.curr_pos = self.next_weight;
            self.curr_weight = self.next_weight;
        }
        let mut switched = false;
        let slot = loop {
            if let Some(s) = self.server_from_group() {
                break s;
            }
            if switched {
                return None;
            }
            switched = true;
            self.switch_trees();
        };
        self.update_position(slot);
        self.dequeue(slot);
        self.curr_pos += 1;
        self.queue_srv(slot);
        Some(slot)
    }

    fn valid(&self, pool: &PoolView<'_>, slot: usize) -> bool {
        pool.backends
            .get(slot)
            .is_some_and(|b| b.eligible() && b.id == self.srv[slot].id)
    }
}

impl Balancer for HaproxyRoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if !self.initialized || self.srv.len() != pool.len() {
            self.sync(pool);
        }
        match self.next_server() {
            Some(slot) if self.valid(pool, slot) => Some(slot),
            got => {
                // The pool changed without notice: catch up and try again, and if the
                // state still disagrees with the pool, start afresh from it.
                if got.is_none() && !pool.backends.iter().any(|b| b.eligible()) {
                    return None;
                }
                self.sync(pool);
                match self.next_server() {
                    Some(slot) if self.valid(pool, slot) => Some(slot),
                    _ => {
                        self.initialized = false;
                        self.sync(pool);
                        self.next_server()
                    }
                }
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.sync(pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{sequence, weighted, weighted_available};

    fn seq(weights: &[u32], n: usize) -> String {
        sequence(&mut HaproxyRoundRobin::new(), &weighted(weights), n)
    }

    #[test]
    fn haproxy_vectors() {
        assert_eq!(seq(&[5, 1, 1], 7), "aaabaac");
        assert_eq!(seq(&[4, 2, 1], 7), "aabacab");
        assert_eq!(seq(&[3, 2, 1], 6), "abacab");
        assert_eq!(seq(&[2, 1], 3), "aab");
    }

    #[test]
    fn vectors_repeat_over_several_cycles() {
        assert_eq!(seq(&[5, 1, 1], 28), "aaabaac".repeat(4));
        assert_eq!(seq(&[4, 2, 1], 28), "aabacab".repeat(4));
        assert_eq!(seq(&[3, 2, 1], 24), "abacab".repeat(4));
        assert_eq!(seq(&[2, 1], 12), "aab".repeat(4));
        assert_eq!(seq(&[1, 1, 1], 9), "abcabcabc");
    }

    #[test]
    fn exact_proportions_over_whole_windows() {
        let w = [7u32, 3, 2, 9, 1];
        let s = seq(&w, 22 * 20);
        for (i, &wi) in w.iter().enumerate() {
            let c = s.chars().filter(|&c| c == (b'a' + i as u8) as char).count();
            assert_eq!(c, wi as usize * 20, "{s}");
        }
    }

    #[test]
    fn first_window_state() {
        // Weights 2,1: eweights 32,16, Σ = 48; the window starts at curr_pos 48.
        let b = weighted(&[2, 1]);
        let mut lb = HaproxyRoundRobin::new();
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!((lb.curr_pos, lb.curr_weight, lb.next_weight), (48, 48, 48));
        assert_eq!(sequence(&mut lb, &b, 1), "a");
        // a took position 48 and moves on by 48/32 = 1 with remainder 16.
        assert_eq!(
            (lb.srv[0].npos, lb.srv[0].rweight, lb.curr_pos),
            (49, 16, 49)
        );
        assert_eq!(sequence(&mut lb, &b, 2), "ab");
        assert_eq!(lb.curr_pos, 51);
    }

    #[test]
    fn skips_ineligible_and_returns_none_when_nothing_is_eligible() {
        let b = weighted_available(&[(5, false), (1, true), (0, true), (2, true)]);
        let s = sequence(&mut HaproxyRoundRobin::new(), &b, 9);
        assert_eq!(s, "ddbddbddb");
        let none = weighted_available(&[(1, false), (0, true)]);
        assert_eq!(sequence(&mut HaproxyRoundRobin::new(), &none, 2), "--");
        assert_eq!(sequence(&mut HaproxyRoundRobin::new(), &[], 2), "--");
    }

    #[test]
    fn server_down_leaves_and_comes_back_without_reset() {
        let mut b = weighted(&[5, 1, 1]);
        let mut lb = HaproxyRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 3), "aaa");
        b[0].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.next_weight, 32);
        assert_eq!(sequence(&mut lb, &b, 6), "bcbcbc");
        b[0].available = true;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.next_weight, 112);
        // a is requeued at curr_pos + (112 + 112 - 121) / 80 = 122, one slot ahead, not at
        // the start of a new window (sequence from this transcription of the
        // status-down/up functions), and the long-run shares are the weights again.
        assert_eq!(lb.srv[0].npos, 122);
        assert_eq!(sequence(&mut lb, &b, 7), "bacaaaa");
        // 63 further picks: 9 whole windows of 7 slots.
        let s = sequence(&mut lb, &b, 63);
        assert_eq!(s.matches('a').count(), 45, "{s}");
        assert_eq!(s.matches('b').count(), 9, "{s}");
    }

    #[test]
    fn weight_change_moves_the_server() {
        let mut b = weighted(&[1, 1]);
        let mut lb = HaproxyRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 4), "abab");
        b[1].weight = 3;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.next_weight, 64);
        // b is requeued as fwrr_update_server_weight does and then gets 3 of every 4 slots.
        assert_eq!(sequence(&mut lb, &b, 16), "abbbabbbabbbabbb");
        // Weight 0 is a server going down.
        b[1].weight = 0;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 3), "aaa");
    }

    #[test]
    fn membership_changes_are_keyed_by_id() {
        let b = weighted(&[2, 1, 1]);
        let mut lb = HaproxyRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 2), "ab");
        // Remove b (id 1): c shifts to index 1.
        let mut b2 = vec![b[0], b[2]];
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b2));
        let s = sequence(&mut lb, &b2, 30);
        assert_eq!(s.matches('a').count(), 20, "{s}");
        // Add a new server with id 7 and weight 1.
        b2.push(crate::balancer::Backend {
            id: 7,
            weight: 1,
            in_flight: 0,
            available: true,
        });
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b2));
        let s = sequence(&mut lb, &b2, 44);
        let tail = &s[4..];
        assert_eq!(tail.matches('c').count(), 10, "{s}");
        assert_eq!(tail.matches('a').count(), 20, "{s}");
        // A pool of another length without notice is picked up too.
        let b3 = weighted(&[1, 1, 1, 1]);
        let s = sequence(&mut lb, &b3, 8);
        assert!(s.chars().all(|c| ('a'..='d').contains(&c)), "{s}");
    }
}
