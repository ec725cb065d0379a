//! `lblab completions SHELL` and `lblab man [COMMAND]`: shell completion scripts
//! (clap_complete) and roff man pages (clap_mangen), both generated from the one clap
//! definition in `mod.rs`, so they can never disagree with `--help`.

use clap::CommandFactory;

use super::{Cli, CliError, out};

#[derive(clap::Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub(super) struct ManArgs {
    /// A subcommand: print its own page, lblab-COMMAND(1), instead of lblab(1).
    command: Option<String>,
}

pub(super) fn completions(a: CompletionsArgs) -> Result<(), CliError> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "lblab", &mut buf);
    out(&String::from_utf8_lossy(&buf))
}

/// The page of `lblab` or of one subcommand (`lblab-run`), as roff text.
pub(super) fn man_page(command: Option<&str>) -> Result<String, CliError> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let date = env!("LBLAB_COMMIT_DATE");
    let page = match command {
        None => cmd,
        Some(name) => {
            let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
            let sub = cmd.find_subcommand(name).ok_or_else(|| {
                CliError::Input(format!(
                    "lblab man: no command \"{name}\"; expected one of {}",
                    names.join(", ")
                ))
            })?;
            sub.clone()
                .name(format!("lblab-{name}"))
                .display_name(format!("lblab-{name}"))
                .version(env!("LBLAB_VERSION_LONG"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .date(date)
        .manual("lblab manual")
        .render(&mut buf)
        .map_err(|e| CliError::Input(format!("lblab man: {e}")))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

pub(super) fn man(a: ManArgs) -> Result<(), CliError> {
    out(&man_page(a.command.as_deref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roff-ish: after clap_mangen's two-line quote-string preamble (`.ie`/`.el`) the
    /// page opens with `.TH NAME 1`, every request line is a known man(7) macro, and the
    /// NAME and SYNOPSIS sections are there.
    fn assert_roffish(page: &str, name: &str) {
        let requests: Vec<&str> = page.lines().filter(|l| l.starts_with('.')).collect();
        let first = requests
            .iter()
            .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
            .unwrap();
        assert!(first.starts_with(&format!(".TH {name} 1 ")), "{first}");
        for r in &requests {
            let mac = r.split_whitespace().next().unwrap();
            assert!(
                [
                    ".ie", ".el", ".TH", ".SH", ".SS", ".TP", ".IP", ".PP", ".RS", ".RE", ".br",
                    ".B", ".I"
                ]
                .contains(&mac),
                "{name}: unexpected request {r}"
            );
        }
        assert!(page.contains("\n.SH NAME\n") && page.contains("\n.SH SYNOPSIS\n"));
    }

    #[test]
    fn every_subcommand_has_a_man_page() {
        let top = man_page(None).unwrap();
        assert_roffish(&top, "lblab");
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            assert!(
                top.contains(&format!("lblab\\-{name}(1)")),
                "{name} not in lblab(1)"
            );
            let page = man_page(Some(name)).unwrap();
            assert_roffish(&page, &format!("lblab-{name}"));
            assert!(
                page.contains(&format!("lblab\\-{name} \\-")),
                "{name}: {page}"
            );
        }
        assert!(matches!(man_page(Some("nope")), Err(CliError::Input(_))));
    }
}
