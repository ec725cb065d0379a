//! Not implemented yet (issue 4).
