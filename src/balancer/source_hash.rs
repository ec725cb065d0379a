//! HAProxy `balance source` (map-based): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
