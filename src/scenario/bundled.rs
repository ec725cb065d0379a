//! The scenarios shipped with lblab, embedded in the binary (`scenarios/*.toml`, listed by
//! `build.rs` at build time), so that `lblab list scenarios`, `lblab run quick-start` and
//! `lblab new` work from any directory with only the installed binary.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The text of the bundled scenario `name` (with or without `.toml`).
pub fn find(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".toml").unwrap_or(name);
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The bundled scenarios' names, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUNDLED.iter().map(|(n, _)| *n)
}

/// The bundled configuration at `path` (`configs/NAME`, or `./configs/NAME`): what a
/// bundled scenario's `[import] file` names.
pub fn config(path: &std::path::Path) -> Option<&'static str> {
    let p = path.strip_prefix(".").unwrap_or(path);
    let p = p.to_str()?.replace('\\', "/");
    BUNDLED_CONFIGS
        .iter()
        .find(|(n, _)| *n == p)
        .map(|(_, t)| *t)
}

/// The bundled configurations a scenario text imports: `(path, text)` of each whose path
/// it names in quotes.
pub fn configs_of(text: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    BUNDLED_CONFIGS
        .iter()
        .filter(move |(n, _)| text.contains(&format!("\"{n}\"")))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_scenarios_is_embedded_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(names().collect::<Vec<_>>(), files);
        for n in names() {
            let text = find(n).unwrap();
            assert_eq!(
                text,
                std::fs::read_to_string(dir.join(format!("{n}.toml"))).unwrap()
            );
            assert!(find(&format!("{n}.toml")).is_some());
        }
        assert!(find("no-such-scenario").is_none());
    }
}
