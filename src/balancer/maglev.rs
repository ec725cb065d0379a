//! Maglev (Eisenbud et al. 2016; Envoy maglev_lb.cc): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
