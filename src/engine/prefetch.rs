//! Cache hints: ask the CPU to start loading a line that will be read soon.
//!
//! A hint changes no result, only when memory arrives. On x86-64 it is the SSE `prefetch`
//! instruction through `safe_arch` (the crate forbids `unsafe`); elsewhere it does nothing.
//! Where lblab hints and why: ARCHITECTURE.md, "Cost per pick".

/// How far ahead a line is wanted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Within the next event or two: into every cache level.
    Soon,
    /// After thousands of events, by when a first-level copy would have been evicted: into
    /// the second level only.
    Later,
}

/// Hints that the cache line holding `r` will be read.
#[inline(always)]
pub fn hint<T>(r: &T, when: When) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    match when {
        When::Soon => safe_arch::prefetch_t0(r),
        When::Later => safe_arch::prefetch_t1(r),
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = (r, when);
}
