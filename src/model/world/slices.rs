//! Results sliced by service and by request class: what each service answered its callers
//! (clients or other services) and what each class of client request got.

use hdrhistogram::Histogram;

use super::metrics::{HIST_MAX_NS, Stats};
use crate::engine::SimTime;
use crate::metrics::{ErrorCause, N_CAUSES, SliceRow};
use crate::model::config::WorldConfig;

/// Requests of one service or class in the measured window.
pub(super) struct Slice {
    issued: u64,
    completed: u64,
    failed: [u64; N_CAUSES],
    latency: Histogram<u64>,
    latency_sum_ns: u128,
}

impl Slice {
    fn new() -> Slice {
        Slice {
            issued: 0,
            completed: 0,
            failed: [0; N_CAUSES],
            latency: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds"),
            latency_sum_ns: 0,
        }
    }

    #[inline]
    fn done(&mut self, latency: SimTime) {
        self.completed += 1;
        let lat = latency.as_nanos();
        self.latency.saturating_record(lat.clamp(1, HIST_MAX_NS));
        self.latency_sum_ns += u128::from(lat);
    }

    fn row(&self, kind: &'static str, name: &str, window_s: f64) -> SliceRow {
        let errors: u64 = self.failed.iter().sum();
        let h = &self.latency;
        let q = |p: f64| {
            if h.is_empty() {
                f64::NAN
            } else {
                h.value_at_quantile(p) as f64 * 1e-6
            }
        };
        SliceRow {
            kind,
            name: name.to_string(),
            issued: self.issued,
            completed: self.completed,
            errors,
            errors_by_cause: self.failed,
            throughput_rps: self.completed as f64 / window_s,
            error_rate_pct: if self.issued > 0 {
                100.0 * errors as f64 / self.issued as f64
            } else {
                f64::NAN
            },
            latency_mean_ms: if h.is_empty() {
                f64::NAN
            } else {
                self.latency_sum_ns as f64 / h.len() as f64 * 1e-6
            },
            latency_p50_ms: q(0.5),
            latency_p99_ms: q(0.99),
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

    /// The rows: services, then classes.
    pub(super) fn rows(&self, cfg: &WorldConfig) -> Vec<SliceRow> {
        let window_s = (cfg.duration - cfg.warmup).as_secs_f64();
        let services = self
            .services
            .iter()
            .zip(&cfg.services)
            .map(|(s, c)| s.row("service", &c.name, window_s));
        let classes = self
            .classes
            .iter()
            .zip(&cfg.classes)
            .map(|(s, c)| s.row("class", &c.name, window_s));
        services.chain(classes).collect()
    }
}

impl Stats {
    /// A client request of `class` enters `service` (its entry).
    #[inline]
    pub(super) fn slice_issued(&mut self, class: u16, service: u16, measured: bool) {
        if !measured {
            return;
        }
        if let Some(s) = self.slices.classes.get_mut(class as usize) {
            s.issued += 1;
        }
        self.service_issued(service, measured);
    }

    /// A request (a client's or a call) reaches `service`'s tier.
    #[inline]
    pub(super) fn service_issued(&mut self, service: u16, measured: bool) {
        if measured && let Some(s) = self.slices.services.get_mut(service as usize) {
            s.issued += 1;
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
            s.failed[cause.index()] += 1;
        }
        self.service_failed(service, cause, measured);
    }

    /// A request to `service` failed.
    #[inline]
    pub(super) fn service_failed(&mut self, service: u16, cause: ErrorCause, measured: bool) {
        if measured && let Some(s) = self.slices.services.get_mut(service as usize) {
            s.failed[cause.index()] += 1;
        }
    }
}
