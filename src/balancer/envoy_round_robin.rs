//! Envoy round robin with EDF weights (edf_scheduler.h): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
