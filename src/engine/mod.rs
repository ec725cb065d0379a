//! The engine: simulated time, the event queue and seeded random streams.
//!
//! Everything here is independent of load balancing. It exists so that the model above it
//! can be deterministic by construction: time is an integer, events are totally ordered by
//! `(time, insertion sequence)`, and every random stream is derived from
//! `(seed, replication, label)` so that adding a draw in one component never shifts another.

mod calendar;
mod heap;
pub mod prefetch;
pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use rng::{SeedTree, SimRng};
pub use time::SimTime;
