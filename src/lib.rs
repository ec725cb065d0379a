//! lblab: a deterministic discrete-event simulator and algorithm lab for load balancing.
#![forbid(unsafe_code)]

pub mod balancer;
pub mod engine;
pub mod ha;
pub mod health;
pub mod import;
pub mod metrics;
pub mod model;
pub mod scenario;

pub mod cli;
pub mod report;
