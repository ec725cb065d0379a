//! What a run measures, and the end-of-run books check and result.

use super::NONE;
use super::RunError;
use super::World;
use super::book::Phase;
use super::health::HealthEvent;
use super::server::Server;
use super::slices::{Slice, Slices};
use crate::engine::SimTime;
use crate::metrics::Bucket;
use crate::metrics::ChangeRow;
use crate::metrics::ErrorCause;
use crate::metrics::FailoverRow;
use crate::metrics::HealthRow;
use crate::metrics::M;
use crate::metrics::N_CAUSES;
use crate::metrics::N_METRICS;
use crate::metrics::RepResult;
use crate::metrics::ServerRow;
use crate::metrics::ServerSeries;
use crate::metrics::imbalance::imbalance;
use crate::model::config::LbView;
use crate::model::config::WorldConfig;

/// Highest latency the histogram tracks exactly (24 h); longer ones are clamped.
pub(super) const HIST_MAX_NS: u64 = 86_400 * 1_000_000_000;

#[derive(Copy, Clone, Default)]
pub(super) struct Counts {
    pub(super) issued: u64,
    pub(super) completed: u64,
    pub(super) failed: [u64; N_CAUSES],
}

/// What the run measures.
pub(super) struct Stats {
    pub(super) all: Counts,
    /// Client requests in the measured window, and the edge tier's attempts.
    pub(super) measured: Slice,
    pub(super) sessions_broken: u64,
    pub(super) sessions_lost: u64,
    pub(super) n_retries_measured: u64,
    pub(super) changes: Vec<ChangeRow>,
    pub(super) health_log: Vec<HealthEvent>,
    /// Liveness restarts in the measured window.
    pub(super) restarts: u64,
    /// Time-series bucket width.
    pub(super) bucket_ns: u64,
    /// Per bucket: completions and errors.
    pub(super) ts_done: Vec<u32>,
    pub(super) ts_errors: Vec<u32>,
    /// Per bucket: a coarse log histogram of latencies (`TS_BINS` bins) for its p99.
    pub(super) ts_bins: Vec<u32>,
    /// Per service and per class.
    pub(super) slices: Slices,
}

/// Log-spaced latency bins per time bucket: eighth-octave bins (about 9% wide) from 2¹⁰ ns
/// (1 µs) up, 32 octaves (to ~73 min); computed from the bits, no logarithm.
pub(super) const TS_BINS: usize = 256;

pub(super) const TS_LO_EXP: u32 = 10;

/// The bin of a latency: its binary exponent and the next three mantissa bits.
#[inline]
pub(super) fn ts_bin(ns: u64) -> usize {
    let ns = ns.max(1 << TS_LO_EXP);
    let e = 63 - ns.leading_zeros();
    let m = (ns >> (e - 3)) & 7;
    (((e - TS_LO_EXP) as usize) * 8 + m as usize).min(TS_BINS - 1)
}

/// The upper edge of bin `b`, in nanoseconds.
pub(super) fn ts_bin_edge(b: usize) -> f64 {
    let (e, m) = (b / 8 + TS_LO_EXP as usize, b % 8);
    (8 + m + 1) as f64 * 2f64.powi(e as i32 - 3)
}

/// At most this many time buckets (at least 1 s wide each).
pub(super) const TS_MAX_BUCKETS: u64 = 2000;

pub(super) fn check_books(what: &str, c: &Counts, outstanding: u64) -> Result<(), RunError> {
    let failed: u64 = c.failed.iter().sum();
    if c.issued != c.completed + failed + outstanding {
        return Err(RunError::Invariant(format!(
            "{what}: issued {} != completed {} + failed {} + in flight {}",
            c.issued, c.completed, failed, outstanding
        )));
    }
    Ok(())
}

/// The time buckets of a run: their width (whole seconds, at least 1 s, at most
/// `TS_MAX_BUCKETS` of them) and number.
pub(super) fn buckets(cfg: &WorldConfig) -> (u64, usize) {
    let d = cfg.duration.as_nanos();
    let per_bucket = d.div_ceil(TS_MAX_BUCKETS).max(1_000_000_000);
    let bucket_ns = per_bucket.div_ceil(1_000_000_000) * 1_000_000_000;
    (bucket_ns, d.div_ceil(bucket_ns).max(1) as usize)
}

impl Stats {
    pub(super) fn new(cfg: &WorldConfig) -> Stats {
        let (bucket_ns, n_buckets) = buckets(cfg);
        Stats {
            all: Counts::default(),
            measured: Slice::new(),
            sessions_broken: 0,
            sessions_lost: 0,
            n_retries_measured: 0,
            changes: Vec::new(),
            health_log: Vec::new(),
            restarts: 0,
            bucket_ns,
            ts_done: vec![0; n_buckets],
            ts_errors: vec![0; n_buckets],
            ts_bins: vec![0; n_buckets * TS_BINS],
            slices: Slices::new(cfg),
        }
    }

    /// The time bucket of `now`.
    #[inline]
    fn bucket(&self, now: SimTime) -> usize {
        ((now.as_nanos() / self.bucket_ns) as usize).min(self.ts_done.len() - 1)
    }

    /// A client got its answer after `latency` (`measured`: issued after the warm-up).
    #[inline]
    pub(super) fn completed(&mut self, now: SimTime, latency: SimTime, measured: bool) {
        self.all.completed += 1;
        let b = self.bucket(now);
        self.ts_done[b] += 1;
        self.ts_bins[b * TS_BINS + ts_bin(latency.as_nanos())] += 1;
        if measured {
            self.measured.done(latency);
        }
    }

    /// A client got an error.
    #[inline]
    pub(super) fn failed(&mut self, now: SimTime, cause: ErrorCause, measured: bool) {
        self.all.failed[cause.index()] += 1;
        let b = self.bucket(now);
        self.ts_errors[b] += 1;
        if measured {
            self.measured.counts.failed[cause.index()] += 1;
        }
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Nanoseconds of `[a, b]` inside the measured window `[warmup, duration]`.
    #[inline]
    pub(super) fn window_overlap(&self, a: SimTime, b: SimTime) -> u64 {
        let lo = a.max(self.cfg.warmup);
        let hi = b.min(self.cfg.duration);
        (hi - lo).as_nanos()
    }

    /// Closes the books: partial busy time, invariant checks, and the result.
    pub(super) fn finish(mut self) -> Result<RepResult, RunError> {
        let n = self.servers.len();
        let mut in_service = vec![0u32; n];
        let mut queued = vec![0u32; n];
        // Per tier: attempts each node should count, and requests waiting.
        let mut lb_in_flight: Vec<Vec<u32>> = self
            .tiers
            .iter()
            .map(|t| vec![0u32; t.in_flight.len()])
            .collect();
        let mut waiting = vec![0u64; self.tiers.len()];
        let (mut out_all, mut out_measured) = (0u64, 0u64);
        for c in &self.book.creqs {
            if c.waiting {
                waiting[c.tier as usize] += 1;
                if c.parent != NONE {
                    continue; // a call: its caller's books hold the client's request
                }
                out_all += 1;
                if c.issued >= self.cfg.warmup {
                    out_measured += 1;
                }
            }
        }
        for i in 0..self.book.atts.len() {
            let a = self.book.atts[i];
            if a.phase == Phase::Free {
                continue;
            }
            if a.creq != NONE {
                let c = self.book.creqs[a.creq as usize];
                if !c.waiting || c.attempt != i as u32 {
                    return Err(RunError::Invariant(format!(
                        "attempt {i} belongs to a request that is not waiting for it"
                    )));
                }
                if a.counted {
                    lb_in_flight[a.tier as usize][a.node as usize * n + a.server as usize] += 1;
                }
            }
            match a.phase {
                Phase::InService => {
                    in_service[a.server as usize] += 1;
                    let busy = self.window_overlap(a.started, self.now);
                    self.servers[a.server as usize].busy_ns += busy;
                }
                Phase::Calling => in_service[a.server as usize] += 1,
                Phase::Queued => queued[a.server as usize] += 1,
                _ => {}
            }
        }
        check_books("whole run", &self.stats.all, out_all)?;
        check_books("measured window", &self.stats.measured.counts, out_measured)?;
        for (t, &w) in waiting.iter().enumerate() {
            if w != u64::from(self.tiers[t].n_waiting) {
                return Err(RunError::Invariant(format!(
                    "tier {t}: {w} requests waiting but the counter says {}",
                    self.tiers[t].n_waiting
                )));
            }
        }
        for s in 0..n {
            let srv = &self.servers[s];
            if srv.busy != in_service[s]
                || srv.in_service.len() != in_service[s] as usize
                || srv.queue.len() != queued[s] as usize
                || srv.busy > srv.slots
            {
                return Err(RunError::Invariant(format!(
                    "server {s}: busy {} / in service {}, queue {} / queued {}, slots {}",
                    srv.busy,
                    in_service[s],
                    srv.queue.len(),
                    queued[s],
                    srv.slots
                )));
            }
        }
        if let Some(conns) = &self.conns {
            // A layer-4 node counts connections, not requests.
            for (node, server) in conns.pinned() {
                lb_in_flight[0][node as usize * n + server as usize] += 1;
            }
        }
        for p in &self.cfg.preset {
            // Phantom requests never complete: the edge nodes count them on top.
            for node in 0..self.cfg.lb.nodes as usize {
                lb_in_flight[0][node * n + p.server as usize] += p.in_flight;
            }
        }
        for (t, tier) in self.tiers.iter().enumerate() {
            for (i, (&counted, &outstanding)) in
                tier.in_flight.iter().zip(&lb_in_flight[t]).enumerate()
            {
                if counted != outstanding {
                    return Err(RunError::Invariant(format!(
                        "load balancer node {} (tier {t}) counts {counted} in flight to server {} but {outstanding} are outstanding",
                        i / n + 1,
                        i % n
                    )));
                }
            }
            let reported = matches!(self.tier_lb(t).view, LbView::Reported { .. });
            for (ri, r) in tier.routes.iter().enumerate() {
                let node = ri / tier.n_pools;
                for b in &r.backends {
                    let want = if reported {
                        tier.reported[b.id as usize]
                    } else {
                        tier.in_flight[node * n + b.id as usize]
                    };
                    if b.in_flight != want || !self.servers[b.id as usize].member {
                        return Err(RunError::Invariant(format!(
                            "pool view of server {} is stale",
                            b.id
                        )));
                    }
                }
            }
        }
        let (warmup, end) = (self.cfg.warmup, self.cfg.duration);
        for s in &mut self.servers {
            if s.member {
                s.member_ns += (end - s.member_since.max(warmup)).as_nanos();
            }
        }
        self.conn_settle();
        self.upstream_settle();
        let mut r = self.result(out_measured);
        r.server_series = self.server_series();
        Ok(r)
    }

    /// The time buckets: throughput, errors and p99 per bucket.
    pub(super) fn timeseries(&self) -> Vec<Bucket> {
        let width = self.stats.bucket_ns as f64 * 1e-9;
        let end = self.cfg.duration.as_secs_f64();
        (0..self.stats.ts_done.len())
            .map(|b| {
                let t = b as f64 * width;
                let w = width.min(end - t).max(1e-9);
                let bins = &self.stats.ts_bins[b * TS_BINS..(b + 1) * TS_BINS];
                let n: u64 = bins.iter().map(|&x| u64::from(x)).sum();
                let p99_ms = if n == 0 {
                    f64::NAN
                } else {
                    let target = (0.99 * n as f64).ceil() as u64;
                    let mut acc = 0u64;
                    let mut bin = TS_BINS - 1;
                    for (i, &x) in bins.iter().enumerate() {
                        acc += u64::from(x);
                        if acc >= target {
                            bin = i;
                            break;
                        }
                    }
                    ts_bin_edge(bin) * 1e-6
                };
                Bucket {
                    t_s: t,
                    width_s: width,
                    throughput_rps: f64::from(self.stats.ts_done[b]) / w,
                    errors_per_s: f64::from(self.stats.ts_errors[b]) / w,
                    p99_ms,
                }
            })
            .collect()
    }

    /// Tier `t`'s name in results: `edge`, the service an internal tier fronts, or
    /// `kubelet` (`u32::MAX`, liveness).
    fn tier_name(&self, t: u32) -> String {
        if t == u32::MAX {
            return "kubelet".into();
        }
        match self.tiers[t as usize].service {
            None => "edge".into(),
            Some(s) => self.cfg.services[s].name.clone(),
        }
    }

    /// Failover rows (per fault, tier and node) and the health time series.
    pub(super) fn failover_rows(&self) -> (Vec<FailoverRow>, Vec<HealthRow>) {
        let names = self.cfg.server_names();
        let kind_name = |spec: usize| self.cfg.failures[spec].kind.name();
        let mut rows = Vec::new();
        // Every node of every tier that sends the failed server requests.
        let views: Vec<(u32, u32)> = (0..self.tiers.len())
            .flat_map(|t| (0..self.tiers[t].nodes as u32).map(move |n| (t as u32, n)))
            .collect();
        for f in &self.faults.records {
            for &(t, node) in &views {
                if !self.tiers[t as usize].serves[f.server as usize] {
                    continue;
                }
                let mine = |e: &&HealthEvent| e.tier == t && e.node == node && e.server == f.server;
                let detected = self
                    .stats
                    .health_log
                    .iter()
                    .filter(mine)
                    .find(|e| !e.up && e.at >= f.start && f.end.is_none_or(|end| e.at < end))
                    .map(|e| e.at);
                // Back in rotation once every mechanism that took it out (active checks,
                // outlier detection, nginx max_fails) has let it back in.
                let recovered = match (detected, f.end) {
                    (Some(_), Some(end)) => {
                        let mut at = Some(end);
                        for cause in ["active", "outlier", "passive"] {
                            let took_out = self.stats.health_log.iter().filter(mine).any(|e| {
                                e.cause == cause && !e.up && e.at >= f.start && e.at < end
                            });
                            if took_out {
                                let back = self
                                    .stats
                                    .health_log
                                    .iter()
                                    .filter(mine)
                                    .find(|e| e.cause == cause && e.up && e.at >= end)
                                    .map(|e| e.at);
                                at = at.zip(back).map(|(a, b)| a.max(b));
                            }
                        }
                        at
                    }
                    _ => None,
                };
                let secs = |t: Option<SimTime>| t.map_or(f64::NAN, |t| t.as_secs_f64());
                rows.push(FailoverRow {
                    failure: f.spec,
                    kind: kind_name(f.spec),
                    server: names[f.server as usize].0.clone(),
                    tier: self.tier_name(t),
                    node: node + 1,
                    fault_s: f.start.as_secs_f64(),
                    detected_s: secs(detected),
                    repair_s: secs(f.end),
                    recovered_s: secs(recovered),
                    sent: f.sent,
                    failed: f.failed,
                });
            }
        }
        let health = self
            .stats
            .health_log
            .iter()
            .map(|e| HealthRow {
                at_s: e.at.as_secs_f64(),
                tier: self.tier_name(e.tier),
                node: if e.tier == u32::MAX { 0 } else { e.node + 1 },
                server: names[e.server as usize].0.clone(),
                state: if e.up { "up" } else { "down" },
                cause: e.cause,
                false_alarm: e.false_alarm,
            })
            .collect();
        (rows, health)
    }

    pub(super) fn result(&self, in_flight_end: u64) -> RepResult {
        let cfg = self.cfg;
        let window_s = (cfg.duration - cfg.warmup).as_secs_f64();
        let mut v = vec![f64::NAN; N_METRICS];
        let m = &self.stats.measured.counts;
        let errors: u64 = m.failed.iter().sum();
        v[M::Throughput as usize] = m.completed as f64 / window_s;
        v[M::Issued as usize] = m.issued as f64;
        v[M::Completed as usize] = m.completed as f64;
        v[M::Errors as usize] = errors as f64;
        if m.issued > 0 {
            v[M::ErrorRate as usize] = 100.0 * errors as f64 / m.issued as f64;
        }
        v[M::ErrorsRejected as usize] = m.failed[ErrorCause::Rejected.index()] as f64;
        v[M::ErrorsTimeout as usize] = m.failed[ErrorCause::Timeout.index()] as f64;
        v[M::ErrorsNoBackend as usize] = m.failed[ErrorCause::NoBackend.index()] as f64;
        v[M::ErrorsRefused as usize] = m.failed[ErrorCause::Refused.index()] as f64;
        v[M::ErrorsServer as usize] = m.failed[ErrorCause::ServerError.index()] as f64;
        v[M::ErrorsUpstreamTimeout as usize] = m.failed[ErrorCause::UpstreamTimeout.index()] as f64;
        v[M::ErrorsLbLost as usize] = m.failed[ErrorCause::LbLost.index()] as f64;
        let (failover, outage) = self.lb_failover_means();
        v[M::LbFailoverMean as usize] = failover;
        v[M::LbOutageMean as usize] = outage;
        v[M::LbCpuUtil as usize] = self.cpu_utilization();
        v[M::Retries as usize] = self.stats.n_retries_measured as f64;
        if m.issued > 0 {
            v[M::Attempts as usize] = self.stats.measured.attempts as f64 / m.issued as f64;
        }
        v[M::InFlightEnd as usize] = in_flight_end as f64;
        let h = &self.stats.measured.latency;
        if !h.is_empty() {
            let ms = |ns: u64| ns as f64 * 1e-6;
            v[M::LatencyMean as usize] =
                self.stats.measured.latency_sum_ns as f64 / h.len() as f64 * 1e-6;
            v[M::LatencyP50 as usize] = ms(h.value_at_quantile(0.5));
            v[M::LatencyP90 as usize] = ms(h.value_at_quantile(0.9));
            v[M::LatencyP99 as usize] = ms(h.value_at_quantile(0.99));
            v[M::LatencyP999 as usize] = ms(h.value_at_quantile(0.999));
            v[M::LatencyMax as usize] = ms(h.max());
        }
        let started = self.stats.measured.started;
        if started > 0 {
            v[M::WaitMean as usize] =
                self.stats.measured.wait_sum_ns as f64 / started as f64 * 1e-6;
            v[M::ServiceMean as usize] =
                self.stats.measured.work_sum_ns as f64 / started as f64 * 1e-6;
        }
        let names = cfg.server_names();
        // Shares are within each server's service; the summary's utilization and
        // imbalance are over the servers behind the edge tier (with one service: all).
        let svc_of = |g: usize| cfg.service_of_group(g);
        let n_svc = cfg.services.len().max(1);
        let (mut total_req, mut total_busy) = (vec![0u64; n_svc], vec![0u64; n_svc]);
        for s in &self.servers {
            total_req[svc_of(s.group)] += s.n_requests;
            total_busy[svc_of(s.group)] += s.busy_ns;
        }
        let edge = &self.tiers[0].serves;
        let mut servers = Vec::with_capacity(self.servers.len());
        let (mut busy_total, mut cap_total) = (0.0, 0.0);
        for (id, (s, (name, g))) in self.servers.iter().zip(names).enumerate() {
            let busy_s = s.busy_ns as f64 * 1e-9;
            let cap = f64::from(s.slots) * s.member_ns as f64 * 1e-9;
            if edge[id] {
                busy_total += busy_s;
                cap_total += cap;
            }
            let (total_req, total_busy) = (total_req[svc_of(g)], total_busy[svc_of(g)]);
            let lookups = s.n_hits + s.n_misses;
            servers.push(ServerRow {
                name,
                group: cfg.groups[g].name.clone(),
                requests: s.n_requests,
                share: if total_req > 0 {
                    s.n_requests as f64 / total_req as f64
                } else {
                    f64::NAN
                },
                busy_s,
                busy_share: if total_busy > 0 {
                    s.busy_ns as f64 / total_busy as f64
                } else {
                    f64::NAN
                },
                utilization: if cap > 0.0 {
                    100.0 * busy_s / cap
                } else {
                    f64::NAN
                },
                rejected: s.n_rejected,
                cache_hit_ratio: if lookups > 0 {
                    100.0 * s.n_hits as f64 / lookups as f64
                } else {
                    f64::NAN
                },
            });
        }
        if cap_total > 0.0 {
            v[M::Utilization as usize] = 100.0 * busy_total / cap_total;
        }
        if let Some(rc) = &self.reconnects {
            let (n, peak, storm) = rc.summary(self.cfg.warmup);
            v[M::Reconnects as usize] = n;
            v[M::ReconnectPeak as usize] = peak;
            v[M::ReconnectStorm as usize] = storm;
        }
        if let Some(conns) = &self.conns {
            v[M::ConnsOpened as usize] = conns.opened as f64;
            if let Some(c) = self
                .cfg
                .connections
                .as_ref()
                .filter(|c| c.handshake != crate::model::Handshake::None)
            {
                let window = (self.cfg.duration - self.cfg.warmup).as_secs_f64();
                v[M::Handshakes as usize] = conns.opened as f64 / window;
                // At layer 7 the node's cores terminate them: their share of its CPU.
                if let (Some(cpu), false) = (&self.cfg.lb.cpu, conns.l4) {
                    v[M::HandshakeCpu as usize] =
                        100.0 * conns.opened as f64 * c.handshake_cpu.as_secs_f64()
                            / (f64::from(cpu.cores) * window);
                }
            }
            if conns.used > 0 {
                v[M::ReqPerConn as usize] = conns.requests as f64 / conns.used as f64;
            }
            if conns.l4 {
                v[M::ConntrackPeak as usize] = f64::from(conns.tracked_peak);
                v[M::ConntrackDrops as usize] = conns.dropped as f64;
            }
            // Pinned connections (layer 4, WebSockets): where they went.
            if conns.pinned {
                v[M::ConnMoved as usize] = conns.moved as f64;
                // Connections open on each backend, averaged over the window.
                let open: Vec<f64> = self
                    .servers
                    .iter()
                    .zip(edge)
                    .enumerate()
                    .filter(|(_, (s, e))| s.ever_member && **e)
                    .map(|(i, _)| conns.area[i])
                    .collect();
                v[M::ConnMaxMean as usize] = imbalance(&open).0;
            }
        }
        // Imbalance over the servers that were in the pool at some point.
        let present: Vec<&Server> = self
            .servers
            .iter()
            .zip(edge)
            .filter(|(s, e)| s.ever_member && **e)
            .map(|(s, _)| s)
            .collect();
        let reqs: Vec<f64> = present.iter().map(|s| s.n_requests as f64).collect();
        let busy: Vec<f64> = present.iter().map(|s| s.busy_ns as f64).collect();
        let (a, b, c) = imbalance(&reqs);
        v[M::ReqMaxMean as usize] = a;
        v[M::ReqCov as usize] = b;
        v[M::ReqJain as usize] = c;
        let (a, b, c) = imbalance(&busy);
        v[M::BusyMaxMean as usize] = a;
        v[M::BusyCov as usize] = b;
        v[M::BusyJain as usize] = c;
        v[M::SessionsBroken as usize] = self.stats.sessions_broken as f64;
        v[M::SessionsLost as usize] = self.stats.sessions_lost as f64;
        let (hits, misses): (u64, u64) = self
            .servers
            .iter()
            .fold((0, 0), |(h, m), s| (h + s.n_hits, m + s.n_misses));
        if hits + misses > 0 {
            v[M::CacheHitRatio as usize] = 100.0 * hits as f64 / (hits + misses) as f64;
        }
        let remaps: Vec<f64> = self
            .stats
            .changes
            .iter()
            .map(|c| c.keys_remapped)
            .filter(|x| x.is_finite())
            .collect();
        if !remaps.is_empty() {
            v[M::KeysRemapped as usize] = 100.0 * remaps.iter().sum::<f64>() / remaps.len() as f64;
        }
        let (failovers, health) = self.failover_rows();
        let detections: Vec<f64> = failovers
            .iter()
            .filter(|f| f.detected_s.is_finite())
            .map(|f| f.detected_s - f.fault_s)
            .collect();
        if !detections.is_empty() {
            v[M::DetectionMean as usize] = detections.iter().sum::<f64>() / detections.len() as f64;
        }
        let recoveries: Vec<f64> = failovers
            .iter()
            .filter(|f| f.recovered_s.is_finite())
            .map(|f| f.recovered_s - f.repair_s)
            .collect();
        if !recoveries.is_empty() {
            v[M::RecoveryMean as usize] = recoveries.iter().sum::<f64>() / recoveries.len() as f64;
        }
        v[M::SentToFailed as usize] = self.faults.records.iter().map(|f| f.sent as f64).sum();
        v[M::Restarts as usize] = self.stats.restarts as f64;
        v[M::FalseEjections as usize] = self
            .stats
            .health_log
            .iter()
            .filter(|e| e.false_alarm)
            .count() as f64;
        let latency_curve = if self.stats.measured.latency.is_empty() {
            vec![f64::NAN; crate::metrics::curve_quantiles().len()]
        } else {
            crate::metrics::curve_quantiles()
                .iter()
                .map(|&q| if q >= 1.0 { self.stats.measured.latency.max() } else { self.stats.measured.latency.value_at_quantile(q) } as f64 * 1e-6)
                .collect()
        };
        // An empty f64 sum is -0.0; print it as 0.
        for x in &mut v {
            *x += 0.0;
        }
        RepResult {
            values: v,
            servers,
            changes: self.stats.changes.clone(),
            failovers,
            health,
            lb_failovers: self.lb_failover_rows(),
            ha: self.ha_rows(),
            latency_curve,
            timeseries: self.timeseries(),
            hops: self.hop_rows(),
            service_series: self.service_series(),
            connections: self.conn_rows(),
            server_series: ServerSeries::default(), // handed over by `finish`
            server_series_skipped: !self.series.servers_kept(),
            slices: self
                .stats
                .slices
                .rows(cfg, self.stats.measured.counts.issued, &self.servers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_series_bins_bracket_the_latency() {
        for ns in [1_000u64, 1_500, 10_000_000, 123_456_789, 3_600_000_000_000] {
            let b = ts_bin(ns);
            let hi = ts_bin_edge(b);
            let lo = if b == 0 { 0.0 } else { ts_bin_edge(b - 1) };
            assert!(
                lo <= ns as f64 && (ns as f64) < hi,
                "{ns}: bin {b} [{lo}, {hi})"
            );
            assert!(hi / lo.max(1.0) < 1.15 || b == 0, "bins are about 9% wide");
        }
    }
}
