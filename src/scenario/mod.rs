//! Scenario files: TOML text → validated [`Scenario`] (with every problem reported).
//!
//! Reading happens in two stages, as ripgrep's `LowArgs`/`HiArgs` do: the TOML parser gives
//! a document in which every key and value keeps its source span; [`spec`] then walks it
//! with typed getters that check each value and record *all* problems (unknown keys with a
//! "did you mean", wrong types, out-of-range values, dangling references) with their key
//! path and position. `--set` overrides are applied to the document first, so they are
//! checked exactly like the file.
//!
//! This module does no IO of its own: the caller passes a function that reads files (the
//! scenario and any trace it references).

pub mod bundled;
mod doc;
pub mod error;
pub mod overrides;
mod preset;
pub mod presets;
mod spec;
pub mod units;

use std::path::{Path, PathBuf};

pub use error::{Origin, Problem, ScenarioError};

use crate::balancer::AlgorithmSpec;
use crate::model::WorldConfig;

/// A validated scenario: metadata plus the world it describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name (used for the results directory).
    pub name: String,
    /// One or two sentences on what it shows.
    pub description: String,
    /// The question it answers (for `lblab list scenarios` and lesson pages).
    pub question: String,
    /// What it teaches: the answer its numbers show at its shipped settings.
    pub lesson: String,
    /// Master seed.
    pub seed: u64,
    /// Number of replications.
    pub replications: u32,
    /// The world (its `algorithm` is the one `lblab run` uses).
    pub world: WorldConfig,
    /// Algorithms `lblab compare` runs (empty if the scenario lists none).
    pub compare: Vec<AlgorithmSpec>,
    /// `[compare] axis`: the key `lblab compare` varies when no `--axis` is given, as
    /// `key=v1,v2,...`.
    pub compare_axis: Option<String>,
    /// FNV-1a hash of the scenario text and overrides (for the manifest); with `[import]`,
    /// of the imported fragment too.
    pub hash: u64,
    /// What the output must say about the scenario (what `[import]` could not translate).
    pub warnings: Vec<String>,
}

/// How a scenario's warning about its `[import]` starts.
pub const IMPORT_PREFIX: &str = "imported ";

/// Reads a file's text (injected so that this module never touches the filesystem itself).
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Parses and validates scenario text. `file` names it in messages; relative paths inside
/// it (empirical traces) are resolved against `base_dir`; `sets` are `key.path=value`.
pub fn parse(
    file: &str,
    text: &str,
    base_dir: &Path,
    sets: &[String],
    read: ReadFile<'_>,
) -> Result<Scenario, ScenarioError> {
    spec::parse(file, text, base_dir, sets, read)
}

/// Reads and parses the scenario at `path` with `read`.
pub fn load(path: &Path, sets: &[String], read: ReadFile<'_>) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = read(path)
        .map_err(|e| ScenarioError::whole(&file, format!("cannot read scenario: {e}")))?;
    let base: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&file, &text, &base, sets, read)
}
