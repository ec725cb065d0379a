//! The scenario reader on arbitrary bytes, as `lblab validate FILE` reads a file: decode
//! (UTF-8, a byte order mark, UTF-16 named), parse the TOML, check every key; then what
//! the commands do next with the result: render the problems as validate prints them, or
//! estimate the valid scenario's memory as run does before allocating. Nothing may panic.
//! A trace the scenario names is not read (the reader says it is not found).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("fuzz.toml");
    let read = |p: &Path| {
        if p == file {
            lblab::cli::decode(data.to_vec())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the fuzz target reads no traces",
            ))
        }
    };
    match lblab::scenario::load(file, &[], &read) {
        Ok(s) => {
            let out = lblab::model::memory::Outputs {
                variants: s.compare.len().max(1) as u32,
                replications: s.replications,
            };
            let _ = lblab::model::memory::estimate(&s.world, out);
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.line_cols();
        }
    }
});
