//! Peak-EWMA (Finagle PeakEwma.scala, tower peak_ewma.rs): not implemented yet (issue 3).

use super::AlgorithmInfo;

/// Catalogue entries of this file (none yet).
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[];
