//! docs/OPERATIONS.md cannot drift from the command line: its configuration reference is
//! generated from clap's definition and compared here, and every `BATON_*` variable or
//! `baton SUBCOMMAND --flag` it (or deploy/) mentions must exist.
//!
//! After changing a flag, run `UPDATE_EXPECT=1 cargo test -p baton-server --test it
//! operations_doc` to regenerate the reference, then read the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::PathBuf;

use baton_server::config::{Cli, NEW_PASSWORD_VARIABLE};
use clap::{ArgAction, CommandFactory};

const START_MARKER: &str =
    "<!-- reference:start (generated from clap by tests/it/operations_doc.rs) -->";
const END_MARKER: &str = "<!-- reference:end -->";

fn repository_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn is_builtin(arg: &clap::Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

fn table_cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The reference as clap defines it: one table per subcommand.
fn generated_reference() -> String {
    let cli = Cli::command();
    let mut text = String::new();
    for subcommand in cli.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let about = subcommand
            .get_about()
            .map(|about| table_cell(&about.to_string()))
            .unwrap_or_default();
        writeln!(text, "#### `baton {}`\n\n{about}\n", subcommand.get_name()).unwrap();
        writeln!(
            text,
            "| flag | environment variable | default | what it does |"
        )
        .unwrap();
        writeln!(text, "| --- | --- | --- | --- |").unwrap();
        for arg in subcommand.get_arguments().filter(|arg| !is_builtin(arg)) {
            let flag = match arg.get_long() {
                Some(long) => format!("`--{long}`"),
                None => format!(
                    "`{}` (argument)",
                    arg.get_value_names()
                        .and_then(|names| names.first())
                        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string)
                ),
            };
            let variable = arg.get_env().map_or_else(
                || "none".to_owned(),
                |env| format!("`{}`", env.to_string_lossy()),
            );
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|value| format!("`{}`", value.to_string_lossy()))
                .collect();
            let is_switch = matches!(arg.get_action(), ArgAction::SetTrue);
            let default = if is_switch && arg.get_env().is_some() {
                "off (the variable set to `true` turns it on)".to_owned()
            } else if is_switch {
                "off".to_owned()
            } else if !defaults.is_empty() {
                defaults.join(", ")
            } else if arg.is_required_set() || arg.get_long().is_none() {
                "required".to_owned()
            } else {
                "unset".to_owned()
            };
            let mut help = arg
                .get_help()
                .map(|help| table_cell(&help.to_string()))
                .unwrap_or_default();
            if !help.is_empty() && !help.ends_with('.') {
                help.push('.');
            }
            let possible: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|value| format!("`{}`", value.get_name()))
                .collect();
            if !possible.is_empty() && !is_switch {
                write!(help, " One of {}.", possible.join(", ")).unwrap();
            }
            writeln!(
                text,
                "| {flag} | {variable} | {default} | {} |",
                help.trim()
            )
            .unwrap();
        }
        if subcommand.get_name() == "create-account" {
            writeln!(
                text,
                "| none | `{NEW_PASSWORD_VARIABLE}` | generated, printed once | The new account's password, at least 12 characters; read from the environment only. |"
            )
            .unwrap();
        }
        text.push('\n');
    }
    text
}

/// Each subcommand's long flags.
fn flags_by_subcommand() -> BTreeMap<String, BTreeSet<String>> {
    Cli::command()
        .get_subcommands()
        .map(|subcommand| {
            let mut flags: BTreeSet<String> = subcommand
                .get_arguments()
                .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
                .collect();
            flags.insert("--help".to_owned());
            (subcommand.get_name().to_owned(), flags)
        })
        .collect()
}

fn known_variables() -> BTreeSet<String> {
    let mut variables: BTreeSet<String> = Cli::command()
        .get_subcommands()
        .flat_map(|subcommand| {
            subcommand
                .get_arguments()
                .filter_map(|arg| arg.get_env().map(|env| env.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    variables.insert(NEW_PASSWORD_VARIABLE.to_owned());
    variables
}

/// Every `BATON_*` word in `text`.
fn variables_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("BATON_") && word.len() > "BATON_".len())
        .map(str::to_owned)
        .collect()
}

/// Every `--flag` written after `baton SUBCOMMAND` on one line (until a shell separator or the
/// end of a code span), as (subcommand, flag).
fn flags_in(text: &str, subcommands: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(position) = rest.find("baton ") {
            rest = &rest[position + "baton ".len()..];
            let command_end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .unwrap_or(rest.len());
            let subcommand = &rest[..command_end];
            if !subcommands.contains(subcommand) {
                continue;
            }
            let end = rest.find(['`', '|', ';', '&', ')']).unwrap_or(rest.len());
            for word in rest[..end].split_whitespace() {
                if let Some(flag) = word.strip_prefix("--") {
                    let name = flag.split('=').next().unwrap_or_default();
                    found.push((subcommand.to_owned(), format!("--{name}")));
                }
            }
        }
    }
    found
}

#[test]
fn the_configuration_reference_matches_the_command_line() {
    let path = repository_file("docs/OPERATIONS.md");
    let document = std::fs::read_to_string(&path).unwrap();
    let start = document
        .find(START_MARKER)
        .expect("OPERATIONS.md has the reference start marker")
        + START_MARKER.len();
    let end = document
        .find(END_MARKER)
        .expect("OPERATIONS.md has the reference end marker");
    let expected = format!("\n\n{}", generated_reference());
    if document[start..end] != expected {
        if std::env::var("UPDATE_EXPECT").is_ok() {
            let updated = format!("{}{expected}{}", &document[..start], &document[end..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "docs/OPERATIONS.md's configuration reference differs from `baton --help`; \
                 rerun with UPDATE_EXPECT=1 to regenerate it. Expected:\n{expected}"
            );
        }
    }
}

#[test]
fn every_variable_and_flag_the_operations_guide_mentions_exists() {
    let known = known_variables();
    let flags = flags_by_subcommand();
    let subcommands: BTreeSet<String> = flags.keys().cloned().collect();
    for relative in ["docs/OPERATIONS.md", "deploy/baton.service", "README.md"] {
        let text = std::fs::read_to_string(repository_file(relative)).unwrap();
        let unknown: Vec<String> = variables_in(&text).difference(&known).cloned().collect();
        assert!(
            unknown.is_empty(),
            "{relative} mentions variables baton does not read: {unknown:?}"
        );
        for (subcommand, flag) in flags_in(&text, &subcommands) {
            assert!(
                flags[&subcommand].contains(&flag),
                "{relative} gives `baton {subcommand}` the flag {flag}, which it does not have"
            );
        }
    }
}

#[test]
fn the_drift_checks_catch_what_they_are_for() {
    let subcommands: BTreeSet<String> = flags_by_subcommand().keys().cloned().collect();
    assert_eq!(
        flags_in(
            "run `baton backup --to /x --data-dir=/d` then `pg_dump --file=y`",
            &subcommands
        ),
        [
            ("backup".to_owned(), "--to".to_owned()),
            ("backup".to_owned(), "--data-dir".to_owned())
        ]
    );
    assert_eq!(
        variables_in("set BATON_LISTEN=x and $BATON_NOPE, not BATON_"),
        BTreeSet::from(["BATON_LISTEN".to_owned(), "BATON_NOPE".to_owned()])
    );
    assert!(generated_reference().contains("| `--listen` | `BATON_LISTEN` | `127.0.0.1:8080` |"));
}
