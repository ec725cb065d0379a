//! What `[connections]` reports: each backend's open-connection time over the measured
//! window, and connections.csv's rows.

use super::World;

impl<const TRACE: bool> World<'_, TRACE> {
    /// At the end: the open-connection time of each server up to now.
    pub(super) fn conn_settle(&mut self) {
        let Some(conns) = self.conns.as_mut() else {
            return;
        };
        let most = conns.tracked.iter().copied().max().unwrap_or(0);
        conns.tracked_peak = conns.tracked_peak.max(most);
        for s in 0..self.servers.len() {
            self.conn_area_to_now(s);
        }
    }

    /// Adds server `s`'s open-connection time since its last change (within the window).
    pub(super) fn conn_area_to_now(&mut self, s: usize) {
        let since = self.conns.as_ref().expect("connections").since[s];
        let overlap = self.window_overlap(since, self.now);
        let conns = self.conns.as_mut().expect("connections");
        conns.area[s] += f64::from(conns.open_now[s]) * overlap as f64;
        conns.since[s] = self.now;
    }

    /// `connections.csv`'s rows: per backend of the edge tier that was ever in the pool.
    pub(super) fn conn_rows(&self) -> Vec<crate::metrics::ConnRow> {
        let window = self.window_overlap(self.cfg.warmup, self.cfg.duration) as f64;
        let names = self.cfg.server_names();
        let n = self.servers.len();
        let (kind, per_server): (&'static str, Vec<(u64, f64)>) =
            match (&self.conns, &self.upstream) {
                (_, Some(up)) => ("upstream", (0..n).map(|s| up.of_server(s)).collect()),
                (Some(c), None) if c.pinned => (
                    "client",
                    (0..n).map(|s| (c.opened_to[s], c.area[s])).collect(),
                ),
                _ => return Vec::new(),
            };
        self.servers
            .iter()
            .enumerate()
            .filter(|(i, s)| s.ever_member && self.tiers[0].serves[*i])
            .map(|(i, s)| crate::metrics::ConnRow {
                server: names[i].0.clone(),
                kind,
                opened: per_server[i].0,
                open_mean: if window > 0.0 {
                    per_server[i].1 / window
                } else {
                    f64::NAN
                },
                requests: s.n_requests,
            })
            .collect()
    }
}
