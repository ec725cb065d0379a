//! Time series per service and per backend, and each class's time per hop.
//!
//! * Per service and time bucket (with `[[services]]`): requests answered, errors, and
//!   their latency sum (every request to the service, clients' and calls').
//! * Per server and time bucket: answers it sent and error answers (counted straight into
//!   the current bucket's row, which a `Sample` closes), and its in-flight count
//!   at the bucket's end as the load balancers see it (attempts every node of every tier
//!   counts outstanding to it: what least-connections balances on), sampled by a
//!   `Sample` event at every bucket boundary. Skipped when servers × buckets exceeds
//!   [`MAX_SERVER_CELLS`] (a huge pool over a long run), and said so.
//! * Per class and service: the time a request spends at the service *itself*: from its
//!   issue by the caller to the caller's answer, less the time its serving attempts spent
//!   waiting for their own calls. Summed over a class's requests to every service, it is
//!   the class's latency when calls run in sequence (parallel calls overlap, so their
//!   times sum to more).

use super::NONE;
use super::World;
use crate::engine::SimTime;
use crate::metrics::{HopRow, ServerSeries, ServiceBucket};
use crate::model::config::WorldConfig;

/// Per-server series are kept up to this many server × bucket cells (12 bytes each).
pub(super) const MAX_SERVER_CELLS: usize = 2_000_000;

pub(super) struct Series {
    /// Time-series bucket width, as the summary's.
    bucket_ns: u64,
    n_buckets: usize,
    /// The bucket of the current time, moved on by `Sample` events.
    pub(super) cur: usize,
    n_services: usize,
    /// Per `bucket * n_services + service`.
    svc_done: Vec<u32>,
    svc_errors: Vec<u32>,
    svc_latency_ns: Vec<u64>,
    n_servers: usize,
    /// Per `bucket * n_servers + server` (empty when skipped).
    srv_answers: Vec<u32>,
    /// Made at the first error answer: most runs have none, and a huge pool's buckets
    /// would be memory the kernel has to map and zero for nothing.
    srv_errors: Vec<u32>,
    srv_in_flight: Vec<u32>,
    /// Where the current bucket's row starts in `srv_answers` and `srv_errors`; past
    /// their end once the last bucket is closed (and when they are skipped).
    srv_row: usize,
    /// Per `class * n_services + service`, in the measured window: requests (each caller
    /// try counts) and their time at the service itself.
    hop_tries: Vec<u64>,
    hop_self_ns: Vec<u128>,
    /// Per request slot: time its serving attempts spent waiting for their calls.
    pub(super) calls_ns: Vec<u64>,
}

impl Series {
    pub(super) fn new(cfg: &WorldConfig, bucket_ns: u64, n_buckets: usize) -> Series {
        let n_services = cfg.services.len();
        let n_servers = cfg.n_allocated();
        let cells = if n_servers * n_buckets <= MAX_SERVER_CELLS {
            n_servers * n_buckets
        } else {
            0
        };
        let hops = if n_services > 0 {
            cfg.classes.len() * n_services
        } else {
            0
        };
        Series {
            bucket_ns,
            n_buckets,
            cur: 0,
            n_services,
            svc_done: vec![0; n_services * n_buckets],
            svc_errors: vec![0; n_services * n_buckets],
            svc_latency_ns: vec![0; n_services * n_buckets],
            n_servers,
            srv_answers: vec![0; cells],
            srv_errors: Vec::new(),
            srv_in_flight: vec![0; cells],
            srv_row: 0,
            hop_tries: vec![0; hops],
            hop_self_ns: vec![0; hops],
            calls_ns: Vec::new(),
        }
    }

    /// Server `s` sent an answer (`error`: an error answer): counted in the current
    /// bucket (nowhere when the series are skipped or the last bucket is closed).
    #[inline]
    pub(super) fn answered(&mut self, s: usize, error: bool) {
        let i = self.srv_row + s;
        if let Some(a) = self.srv_answers.get_mut(i) {
            *a = a.wrapping_add(1);
            if error {
                self.error_answer(i);
            }
        }
    }

    #[cold]
    fn error_answer(&mut self, i: usize) {
        let errors = self.srv_errors_made();
        errors[i] = errors[i].wrapping_add(1);
    }

    /// The error rows, made (all zero, like the answers') if no error came yet.
    fn srv_errors_made(&mut self) -> &mut Vec<u32> {
        if self.srv_errors.is_empty() {
            self.srv_errors = vec![0; self.srv_answers.len()];
        }
        &mut self.srv_errors
    }

    /// Whether per-server series are kept.
    pub(super) fn servers_kept(&self) -> bool {
        !self.srv_answers.is_empty() || self.n_servers == 0
    }

    /// The first time of bucket `b + 1`.
    pub(super) fn boundary(&self, b: usize) -> SimTime {
        SimTime::from_nanos((b as u64 + 1) * self.bucket_ns)
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// A bucket boundary: the bucket that ends now is closed, with every server's
    /// in-flight count.
    pub(super) fn sample(&mut self) {
        let b = self.series.cur;
        if !self.series.srv_in_flight.is_empty() {
            let n = self.series.n_servers;
            let row = &mut self.series.srv_in_flight[b * n..(b + 1) * n];
            // A tier's counts are per node, then server: one row of the pool per node.
            for node in self.tiers.iter().flat_map(|t| t.in_flight.chunks_exact(n)) {
                for (sum, &x) in row.iter_mut().zip(node) {
                    *sum += x;
                }
            }
        }
        if b + 1 < self.series.n_buckets {
            self.series.cur = b + 1;
            self.series.srv_row = (b + 1) * self.series.n_servers;
            let next = self.series.boundary(b + 1);
            self.q.push(next.min(self.cfg.duration), super::Ev::Sample);
        } else {
            // Answers after the last boundary (at the run's last instant) are in no bucket.
            self.series.srv_row = self.series.srv_answers.len();
        }
    }

    /// Request `c` is over for its caller (`ok`: answered well): its service's time
    /// series and its time at the service itself. A no-op without `[[services]]`.
    #[inline(always)]
    pub(super) fn request_over(&mut self, c: u32, ok: bool) {
        if self.series.n_services != 0 {
            self.record_request(c, ok);
        }
    }

    #[inline(never)]
    fn record_request(&mut self, c: u32, ok: bool) {
        let r = self.book.creqs[c as usize];
        let took = self.now - r.issued;
        let b = self.series.cur;
        let i = b * self.series.n_services + r.service as usize;
        if ok {
            self.series.svc_done[i] += 1;
            self.series.svc_latency_ns[i] += took.as_nanos();
        } else {
            self.series.svc_errors[i] += 1;
        }
        if r.issued >= self.cfg.warmup {
            let calls = self.series.calls_ns.get(c as usize).copied().unwrap_or(0);
            let h = r.class as usize * self.series.n_services + r.service as usize;
            self.series.hop_tries[h] += 1;
            self.series.hop_self_ns[h] += u128::from(took.as_nanos().saturating_sub(calls));
        }
        if let Some(x) = self.series.calls_ns.get_mut(c as usize) {
            *x = 0;
        }
    }

    /// Attempt `a` waited for its calls from `since` until now.
    #[inline]
    pub(super) fn calls_waited(&mut self, a: u32, since: SimTime) {
        let c = self.book.atts[a as usize].creq;
        if c == NONE {
            return;
        }
        let c = c as usize;
        if self.series.calls_ns.len() <= c {
            self.series
                .calls_ns
                .resize(self.book.creqs.len().max(c + 1), 0);
        }
        self.series.calls_ns[c] += (self.now - since).as_nanos();
    }

    /// Per service and bucket: throughput, errors and mean latency.
    pub(super) fn service_series(&self) -> Vec<ServiceBucket> {
        let s = &self.series;
        let width = s.bucket_ns as f64 * 1e-9;
        let end = self.cfg.duration.as_secs_f64();
        let mut out = Vec::with_capacity(s.n_buckets * s.n_services);
        for b in 0..s.n_buckets {
            let t = b as f64 * width;
            let w = width.min(end - t).max(1e-9);
            for (k, svc) in self.cfg.services.iter().enumerate() {
                let i = b * s.n_services + k;
                let done = f64::from(s.svc_done[i]);
                out.push(ServiceBucket {
                    t_s: t,
                    width_s: w,
                    service: svc.name.clone(),
                    throughput_rps: done / w,
                    errors_per_s: f64::from(s.svc_errors[i]) / w,
                    latency_mean_ms: if done > 0.0 {
                        s.svc_latency_ns[i] as f64 / done * 1e-6
                    } else {
                        f64::NAN
                    },
                });
            }
        }
        out
    }

    /// Per server and bucket: answers, error answers and in-flight count at the bucket's
    /// end, handed over to the result (which makes the rows as they are read).
    pub(super) fn server_series(&mut self) -> ServerSeries {
        let s = &mut self.series;
        if s.srv_answers.is_empty() {
            return ServerSeries::default();
        }
        // Sample events run up to the run's end, the last one at it.
        debug_assert!(
            s.srv_row >= s.srv_answers.len(),
            "the last bucket is closed"
        );
        s.srv_errors_made();
        ServerSeries {
            width_s: s.bucket_ns as f64 * 1e-9,
            end_s: self.cfg.duration.as_secs_f64(),
            n_buckets: s.n_buckets,
            service: self.servers.iter().map(|x| x.service as u32).collect(),
            kept: self.servers.iter().map(|x| x.ever_member).collect(),
            answers: std::mem::take(&mut s.srv_answers),
            errors: std::mem::take(&mut s.srv_errors),
            in_flight: std::mem::take(&mut s.srv_in_flight),
        }
    }

    /// Per class and service it reaches: requests per client request, and time at the
    /// service itself per client request and per request.
    pub(super) fn hop_rows(&self) -> Vec<HopRow> {
        let s = &self.series;
        let mut out = Vec::new();
        if s.n_services == 0 {
            return out;
        }
        for (k, class) in self.cfg.classes.iter().enumerate() {
            let clients = self
                .stats
                .slices
                .classes
                .get(k)
                .map_or(0, |x| x.counts.issued);
            for (j, svc) in self.cfg.services.iter().enumerate() {
                let h = k * s.n_services + j;
                let reached = class.entry == j || self.cfg.classes[k].hops[j].work.is_some();
                if !reached && s.hop_tries[h] == 0 {
                    continue;
                }
                let tries = s.hop_tries[h] as f64;
                let self_ms = s.hop_self_ns[h] as f64 * 1e-6;
                let per_client = |x: f64| {
                    if clients > 0 {
                        x / clients as f64
                    } else {
                        f64::NAN
                    }
                };
                out.push(HopRow {
                    class: class.name.clone(),
                    service: svc.name.clone(),
                    requests_per_client_request: per_client(tries),
                    self_ms_per_client_request: per_client(self_ms),
                    self_ms_per_request: if tries > 0.0 {
                        self_ms / tries
                    } else {
                        f64::NAN
                    },
                });
            }
        }
        out
    }
}
