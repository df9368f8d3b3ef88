//! docs/THREAT_MODEL.md names, for every threat, the code that mitigates it and the test that
//! shows it. A reference that no longer greps is a defect of that page, so this test greps them
//! all: a `path.rs::item` reference needs the file and, in it, the item's definition (`fn` for
//! a lower-case name, `struct`, `enum`, `trait` or `type` for a capitalised one, each outer
//! segment as a word); a bare `Type::item` or `identifier` must occur as a word in the
//! workspace's Rust sources.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_sources(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != "node_modules" {
            rust_sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

fn defines(text: &str, name: &str) -> bool {
    let keywords: &[&str] = if name.starts_with(|c: char| c.is_ascii_uppercase()) {
        &["struct", "enum", "trait", "type"]
    } else {
        &["fn"]
    };
    keywords
        .iter()
        .any(|keyword| contains_word(text, &format!("{keyword} {name}")))
}

/// What is wrong with one code span of the page, if it is a reference at all.
fn check_reference(span: &str, root: &Path, all_sources: &str) -> Option<String> {
    if let Some((path, item)) = span.split_once(".rs::") {
        let path = format!("{path}.rs");
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            return Some(format!("`{span}`: there is no file {path}"));
        };
        let segments: Vec<&str> = item.split("::").collect();
        if !segments.iter().all(|segment| is_identifier(segment)) {
            return Some(format!("`{span}`: not a path to an item"));
        }
        let (last, outer) = segments.split_last().expect("split always yields one");
        if let Some(missing) = outer.iter().find(|segment| !contains_word(&text, segment)) {
            return Some(format!("`{span}`: {path} has no {missing}"));
        }
        if !defines(&text, last) {
            return Some(format!("`{span}`: {path} does not define {last}"));
        }
        return None;
    }
    if span.ends_with(".rs") && !span.contains(' ') {
        return (!root.join(span).is_file()).then(|| format!("`{span}`: there is no such file"));
    }
    let segments: Vec<&str> = span.split("::").collect();
    let missing = segments
        .iter()
        .find(|segment| !contains_word(all_sources, segment))
        .filter(|_| segments.iter().all(|segment| is_identifier(segment)))?;
    Some(format!("`{span}`: no Rust source mentions {missing}"))
}

fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn problems(document: &str, root: &Path, all_sources: &str) -> Vec<String> {
    let spans: BTreeSet<&str> = code_spans(document).into_iter().collect();
    spans
        .into_iter()
        .filter_map(|span| check_reference(span, root, all_sources))
        .collect()
}

/// The Rust sources of the workspace, and docs/PROTOCOL.md for the wire names (`pin_only`) the
/// page quotes, which serde spells from CamelCase variants.
fn all_sources(root: &Path) -> String {
    let mut files = vec![root.join("docs/PROTOCOL.md")];
    for crate_directory in ["core", "server", "app", "loadgen", "xtask"] {
        rust_sources(&root.join(crate_directory), &mut files);
    }
    files
        .iter()
        // This file names made-up references on purpose.
        .filter(|file| !file.ends_with("tests/it/threat_model.rs"))
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_reference_in_the_threat_model_greps() {
    let root = repository_root();
    let document = std::fs::read_to_string(root.join("docs/THREAT_MODEL.md")).unwrap();
    let sources = all_sources(&root);
    let found = problems(&document, &root, &sources);
    assert!(
        found.is_empty(),
        "docs/THREAT_MODEL.md names code that is not there:\n{}",
        found.join("\n")
    );
    // The page is mostly references: a parser that found none would pass anything.
    let n_references = code_spans(&document)
        .iter()
        .filter(|span| span.contains(".rs::"))
        .count();
    assert!(n_references > 60, "only {n_references} references found");
}

#[test]
fn the_reference_check_catches_what_it_is_for() {
    let root = repository_root();
    let sources = all_sources(&root);
    let document = "| `server/src/verify.rs::verify_bundle` | `server/src/nowhere.rs::run` \
        `server/src/verify.rs::no_such_function` `server/src/verify.rs::Report::is_valid` \
        `server/src/verify.rs::Nope::is_valid` `NoSuchThing::at_all` `SignInThrottle` \
        `409 ledger_inconsistent` `unsafe-inline` |";
    assert_eq!(
        problems(document, &root, &sources),
        [
            "`NoSuchThing::at_all`: no Rust source mentions NoSuchThing",
            "`server/src/nowhere.rs::run`: there is no file server/src/nowhere.rs",
            "`server/src/verify.rs::Nope::is_valid`: server/src/verify.rs has no Nope",
            "`server/src/verify.rs::no_such_function`: server/src/verify.rs does not define no_such_function",
        ]
    );
}
