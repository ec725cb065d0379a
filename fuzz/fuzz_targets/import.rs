//! The configuration importers on arbitrary bytes, as `lblab import nginx|haproxy|envoy
//! FILE` reads a file: the same bytes through all three (an nginx `include` finds nothing).
//! Each returns a fragment or an error with the file (and, where it has one, the line);
//! nothing may panic, and a fragment must render.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;

struct One<'a>(&'a [u8]);

impl lblab::import::Files for One<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if path == Path::new("fuzz.conf") {
            Ok(self.0.to_vec())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "only fuzz.conf"))
        }
    }

    fn list(&self, _: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
}

fuzz_target!(|data: &[u8]| {
    let files = One(data);
    let path = Path::new("fuzz.conf");
    for r in [
        lblab::import::nginx::import(path, None, &files),
        lblab::import::haproxy::import(path, None, &files),
        lblab::import::envoy::import(path, None, &files),
    ] {
        match r {
            Ok(i) => {
                let _ = i.fragment.to_toml();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
