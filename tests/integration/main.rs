//! lblab's integration tests: one binary (fast to link), one module per concern.
//!
//! Statistical tests use fixed seeds and derive their tolerance from the replications'
//! own confidence interval (see `support::assert_matches`), never from a guessed epsilon.
//! Run them optimised: `cargo test --release`.

mod accounting;
mod bundled;
mod calls;
mod cli;
mod cli_conventions;
mod connections;
mod errors;
mod failures;
mod generated;
mod ha;
mod health;
mod hostile;
mod hosts;
mod import;
mod import_envoy;
mod import_scenario;
mod lab;
mod lab_scenarios;
mod lessons;
mod lessons_configs;
mod lessons_conn;
mod mutation;
mod overrides;
mod present;
mod presets;
mod priorities;
mod probes;
mod scenarios;
mod serve;
mod services;
mod shards;
mod sockets;
mod support;
mod sweep;
mod theory;
mod trace;
