//! The model: clients, request classes, servers and the world that drives the balancer.
//!
//! [`config`] holds the validated, typed description of a world (built by `scenario`);
//! [`World`] runs one replication of it on the engine and returns its metrics.
//! The world owns everything with a true state (servers, requests, clients) and feeds the
//! sans-IO balancer only what a real load balancer would know.

pub mod cache;
pub mod config;
pub mod connections;
pub mod dist;
pub mod memory;
pub mod population;
pub mod services;
pub mod world;

pub use config::*;
pub use connections::{ConnConfig, Handshake, Protocol};
pub use dist::Dist;
pub use services::{CallSpec, Hop, ServiceConfig};
pub use world::{RunError, ServerMoment, TraceLine, World};
