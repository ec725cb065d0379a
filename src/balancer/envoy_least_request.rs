//! Envoy LEAST_REQUEST (least_request_lb.cc): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
