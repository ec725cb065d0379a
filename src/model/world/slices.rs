//! Results sliced by service and by request class: what each service answered its callers
//! (clients or other services) and what each class of client request got.

use hdrhistogram::Histogram;

use super::metrics::{Counts, HIST_MAX_NS, Stats};
use super::server::Server;
use crate::engine::SimTime;
use crate::metrics::ErrorCause;
use crate::metrics::imbalance::imbalance;
use crate::metrics::slices::{S, SLICE_COLUMNS, SliceRow, cause_column};
use crate::model::config::WorldConfig;

/// Requests of one slice in the measured window: a service's, a class's, or (the summary's)
/// every client request at the edge tier.
pub(super) struct Slice {
    pub(super) counts: Counts,
    pub(super) latency: Histogram<u64>,
    pub(super) latency_sum_ns: u128,
    /// Attempts its tier sent, attempts its servers started, and their queue waits and
    /// service times.
    pub(super) attempts: u64,
    pub(super) started: u64,
    pub(super) wait_sum_ns: u128,
    pub(super) work_sum_ns: u128,
}

impl Slice {
    pub(super) fn new() -> Slice {
        Slice {
            counts: Counts::default(),
            latency: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds"),
            latency_sum_ns: 0,
            attempts: 0,
            started: 0,
            wait_sum_ns: 0,
            work_sum_ns: 0,
        }
    }

    /// One of its servers started an attempt after `wait` in its queue, for `work`.
    #[inline]
    pub(super) fn start(&mut self, wait: SimTime, work: SimTime) {
        self.started += 1;
        self.wait_sum_ns += u128::from(wait.as_nanos());
        self.work_sum_ns += u128::from(work.as_nanos());
    }

    /// A request completed after `latency`.
    #[inline]
    pub(super) fn done(&mut self, latency: SimTime) {
        self.counts.completed += 1;
        let lat = latency.as_nanos();
        self.latency.saturating_record(lat.clamp(1, HIST_MAX_NS));
        self.latency_sum_ns += u128::from(lat);
    }

    fn row(&self, kind: &'static str, name: &str, window_s: f64) -> SliceRow {
        let mut v = vec![f64::NAN; SLICE_COLUMNS.len()];
        let Counts {
            issued,
            completed,
            failed,
        } = self.counts;
        let errors: u64 = failed.iter().sum();
        let h = &self.latency;
        v[S::Requests as usize] = issued as f64;
        v[S::Completed as usize] = completed as f64;
        v[S::Errors as usize] = errors as f64;
        v[S::Throughput as usize] = completed as f64 / window_s;
        if issued > 0 {
            v[S::ErrorRate as usize] = 100.0 * errors as f64 / issued as f64;
        }
        if !h.is_empty() {
            v[S::LatencyMean as usize] = self.latency_sum_ns as f64 / h.len() as f64 * 1e-6;
            v[S::LatencyP50 as usize] = h.value_at_quantile(0.5) as f64 * 1e-6;
            v[S::LatencyP99 as usize] = h.value_at_quantile(0.99) as f64 * 1e-6;
        }
        if kind == "service" && self.started > 0 {
            v[S::WaitMean as usize] = self.wait_sum_ns as f64 / self.started as f64 * 1e-6;
            v[S::WorkMean as usize] = self.work_sum_ns as f64 / self.started as f64 * 1e-6;
        }
        for c in ErrorCause::ALL {
            v[cause_column(c) as usize] = failed[c.index()] as f64;
        }
        SliceRow {
            kind,
            name: name.to_string(),
            values: v,
        }
    }
}

/// Per-service and per-class slices (empty when there is only one of each).
pub(super) struct Slices {
    pub(super) services: Vec<Slice>,
    pub(super) classes: Vec<Slice>,
}

impl Slices {
    pub(super) fn new(cfg: &WorldConfig) -> Slices {
        let multi = !cfg.services.is_empty();
        Slices {
            services: (0..cfg.services.len()).map(|_| Slice::new()).collect(),
            classes: if multi || cfg.classes.len() > 1 {
                (0..cfg.classes.len()).map(|_| Slice::new()).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// The rows: services, then classes. `client_requests`: client requests issued in
    /// the window; `servers`: the fleet, for each service's utilization and imbalance.
    pub(super) fn rows(
        &self,
        cfg: &WorldConfig,
        client_requests: u64,
        servers: &[Server],
    ) -> Vec<SliceRow> {
        let window_s = (cfg.duration - cfg.warmup).as_secs_f64();
        let mut out = Vec::with_capacity(self.services.len() + self.classes.len());
        for (i, (s, c)) in self.services.iter().zip(&cfg.services).enumerate() {
            let mut row = s.row("service", &c.name, window_s);
            if client_requests > 0 {
                row.values[S::AttemptsPerRequest as usize] =
                    s.attempts as f64 / client_requests as f64;
            }
            let mine: Vec<&Server> = servers
                .iter()
                .filter(|srv| cfg.service_of_group(srv.group) == i)
                .collect();
            let busy: f64 = mine.iter().map(|srv| srv.busy_ns as f64).sum();
            let cap: f64 = mine
                .iter()
                .map(|srv| f64::from(srv.slots) * srv.member_ns as f64)
                .sum();
            if cap > 0.0 {
                row.values[S::Utilization as usize] = 100.0 * busy / cap;
            }
            let reqs: Vec<f64> = mine
                .iter()
                .filter(|srv| srv.ever_member)
                .map(|srv| srv.n_requests as f64)
                .collect();
            row.values[S::ReqMaxMean as usize] = imbalance(&reqs).0;
            out.push(row);
        }
        for (s, c) in self.classes.iter().zip(&cfg.classes) {
            out.push(s.row("class", &c.name, window_s));
        }
        out
    }
}

impl Stats {
    /// A tier sent an attempt to a server of `service`.
    #[inline]
    pub(super) fn service_attempt(&mut self, service: u16) {
        if let Some(s) = self.slices.services.get_mut(service as usize) {
            s.attempts += 1;
        }
    }

    /// A server of `service` started an attempt after `wait` in its queue, for `work`.
    #[inline]
    pub(super) fn service_started(&mut self, service: u16, wait: SimTime, work: SimTime) {
        if let Some(s) = self.slices.services.get_mut(service as usize) {
            s.start(wait, work);
        }
    }

    /// A client request of `class` enters `service` (its entry).
    #[inline]
    pub(super) fn slice_issued(&mut self, class: u16, service: u16, measured: bool) {
        if !measured {
            return;
        }
        if let Some(s) = self.slices.classes.get_mut(class as usize) {
            s.counts.issued += 1;
        }
        self.service_issued(service, measured);
    }

    /// A request (a client's or a call) reaches `service`'s tier.
    #[inline]
    pub(super) fn service_issued(&mut self, service: u16, measured: bool) {
        if measured && let Some(s) = self.slices.services.get_mut(service as usize) {
            s.counts.issued += 1;
        }
    }

    /// A client request of `class` to `service` completed.
    #[inline]
    pub(super) fn slice_completed(
        &mut self,
        class: u16,
        service: u16,
        latency: SimTime,
        measured: bool,
    ) {
        if !measured {
            return;
        }
        if let Some(s) = self.slices.classes.get_mut(class as usize) {
            s.done(latency);
        }
        self.service_completed(service, latency, measured);
    }

    /// A request to `service` completed.
    #[inline]
    pub(super) fn service_completed(&mut self, service: u16, latency: SimTime, measured: bool) {
        if measured && let Some(s) = self.slices.services.get_mut(service as usize) {
            s.done(latency);
        }
    }

    /// A client request of `class` to `service` failed.
    #[inline]
    pub(super) fn slice_failed(
        &mut self,
        class: u16,
        service: u16,
        cause: ErrorCause,
        measured: bool,
    ) {
        if !measured {
            return;
        }
        if let Some(s) = self.slices.classes.get_mut(class as usize) {
            s.counts.failed[cause.index()] += 1;
        }
        self.service_failed(service, cause, measured);
    }

    /// A request to `service` failed.
    #[inline]
    pub(super) fn service_failed(&mut self, service: u16, cause: ErrorCause, measured: bool) {
        if measured && let Some(s) = self.slices.services.get_mut(service as usize) {
            s.counts.failed[cause.index()] += 1;
        }
    }
}
