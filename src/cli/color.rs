//! Colour on the terminal: `--color auto|always|never`, `NO_COLOR`, and the styles of
//! diagnostics.
//!
//! Messages are built with ANSI styles (anstyle) and written through anstream, which strips
//! them when colour is off. The choice is made once, in [`init`], and shared with clap so
//! usage errors and help follow it too. Precedence, as in cargo and ripgrep:
//! `--color always` or `never` wins; with `auto` (the default) a non-empty `NO_COLOR`
//! disables colour, a non-empty `CLICOLOR_FORCE` enables it, and otherwise stderr gets
//! colour only when it is a terminal (and `TERM` is not `dumb`).

use std::io::Write;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;

use crate::scenario::ScenarioError;
use crate::scenario::error::Part;

/// When to colour diagnostics.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is non-empty (a non-empty CLICOLOR_FORCE forces it).
    #[default]
    Auto,
    /// Even when piped, even with NO_COLOR.
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    fn choice(self) -> anstream::ColorChoice {
        match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        }
    }

    /// The same choice for clap's own errors and help.
    pub fn clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }
}

/// The `--color` value on a raw command line (the last one wins, as clap would take it),
/// read before parsing so that clap's own errors already follow it. An unknown value is
/// `auto` here; clap then reports it.
pub fn from_args(args: &[std::ffi::OsString]) -> ColorWhen {
    let mut when = ColorWhen::Auto;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let v = if a == "--color" {
            it.next().map(|v| v.into_owned())
        } else {
            a.strip_prefix("--color=").map(str::to_string)
        };
        if let Some(w) = v.and_then(|v| ColorWhen::from_str(&v, false).ok()) {
            when = w;
        }
    }
    when
}

/// Makes `when` the choice of every later write to stderr through [`eprint`].
pub fn init(when: ColorWhen) {
    when.choice().write_global();
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const GUTTER: Style = AnsiColor::Blue.on_default().bold();
const HELP: Style = AnsiColor::Cyan.on_default().bold();

fn paint(style: Style, s: &str) -> String {
    format!("{style}{s}{style:#}")
}

/// A scenario error, styled like a compiler diagnostic: red `error:` and caret, blue
/// gutter, cyan `= help:`.
pub fn scenario_error(e: &ScenarioError) -> String {
    e.render(&|part, s| match part {
        Part::Error | Part::Caret => paint(ERROR, s),
        Part::Gutter => paint(GUTTER, s),
        Part::Help => paint(HELP, s),
    })
}

/// A top-level failure message: its leading `lblab:` (or `lblab <command>:`) label in
/// red bold, the rest as it is (it may already hold styles, e.g. a scenario error).
pub fn failure(msg: &str) -> String {
    match msg.split_once(": ") {
        Some((label, rest)) if label.starts_with("lblab") && !label.contains('\n') => {
            format!("{} {rest}", paint(ERROR, &format!("{label}:")))
        }
        _ => msg.to_string(),
    }
}

/// Writes `s` to stderr, keeping its styles only if colour is on.
pub fn eprint(s: &str) {
    let mut e = anstream::stderr().lock();
    let _ = e.write_all(s.as_bytes()).and_then(|_| e.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(xs: &[&str]) -> Vec<std::ffi::OsString> {
        xs.iter().map(|x| x.into()).collect()
    }

    #[test]
    fn color_flag_is_read_before_parsing() {
        assert_eq!(from_args(&args(&["lblab", "run", "x"])), ColorWhen::Auto);
        assert_eq!(
            from_args(&args(&["lblab", "--color", "always", "run"])),
            ColorWhen::Always
        );
        assert_eq!(
            from_args(&args(&["lblab", "run", "--color=never", "--color=always"])),
            ColorWhen::Always
        );
        assert_eq!(
            from_args(&args(&["lblab", "run", "--color=banana"])),
            ColorWhen::Auto
        );
        assert_eq!(
            from_args(&args(&["lblab", "run", "--", "--color=never"])),
            ColorWhen::Auto
        );
    }

    #[test]
    fn failure_label_is_styled_and_text_kept() {
        let m = failure("lblab: cannot read x: gone");
        assert!(m.starts_with("\u{1b}["), "{m:?}");
        let plain = anstream::adapter::strip_str(&m).to_string();
        assert_eq!(plain, "lblab: cannot read x: gone");
        assert_eq!(failure("no label here"), "no label here");
    }

    #[test]
    fn styled_scenario_error_strips_to_the_plain_one() {
        let e = ScenarioError {
            file: "a.toml".into(),
            source: "x = 1\nslot = 2\n".into(),
            problems: vec![crate::scenario::Problem {
                path: "slot".into(),
                message: "unknown key".into(),
                hint: Some("did you mean `slots`?".into()),
                origin: crate::scenario::Origin::File(6..10),
            }],
        };
        let styled = scenario_error(&e);
        for part in [
            paint(ERROR, "error:"),
            paint(ERROR, "^^^^"),
            paint(GUTTER, "2 |"),
            paint(HELP, "= help:"),
        ] {
            assert!(styled.contains(&part), "{part:?} not in {styled:?}");
        }
        assert_eq!(
            anstream::adapter::strip_str(&styled).to_string(),
            e.to_string()
        );
    }
}
