//! Consistent hashing with bounded loads (HAProxy hash-balance-factor): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
