//! The docs say what the code does: every phase, condition type, condition reason and Event
//! reason the controller can report is in docs/rollout.md with the meaning the code gives it
//! (each declared once, with its meaning, by `closed_set!`), the plan id has one definition,
//! and every error category a metric can carry is in docs/operations.md and docs/aws.md.
//!
//! The lists come from the code (`ALL` of each closed set, [`ErrorCategory::all`]), never from
//! a copy kept here: a name added to the code without its documentation fails these tests,
//! and so does a documented name the code no longer has.

use std::collections::BTreeMap;

use super::crd::repo_path;
use crate::api::{ConditionReason, ConditionType, PLAN_ID_MEANING, RolloutPhase};
use crate::controller::metrics::ErrorCategory;
use crate::plan::EventReason;

fn read(doc: &str) -> String {
    std::fs::read_to_string(repo_path(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

/// The rows of the first table after the heading `heading` (any level), keyed by their first
/// cell without backticks: the header's names, and each row's cells.
fn table(doc: &str, text: &str, heading: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim_start_matches('#').trim() != heading || !l.starts_with('#'));
    assert!(lines.next().is_some(), "{doc} has no section \"{heading}\"");
    let mut rows = lines
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        });
    let header = rows
        .next()
        .unwrap_or_else(|| panic!("{doc}: no table in section \"{heading}\""));
    let body = rows
        .filter(|r| !r.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')))
        .map(|r| (r[0].trim_matches('`').to_string(), r))
        .collect();
    (header, body)
}

/// Every name of `names` has a row in the table under `heading` whose `column` is its meaning,
/// and the table has no other rows. The failure lists every row to add or fix.
fn documented(doc: &str, heading: &str, column: &str, names: &[(&str, &str)]) {
    let text = read(doc);
    let (header, rows) = table(doc, &text, heading);
    let at = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{doc}, \"{heading}\": no column \"{column}\" in {header:?}"));
    let mut problems = Vec::new();
    for (name, meaning) in names {
        match rows.get(*name) {
            None => problems.push(format!("missing row for {name}: | {name} | ... {meaning} ... |")),
            Some(row) if row.get(at).map(String::as_str) != Some(*meaning) => problems.push(format!(
                "{name}: column \"{column}\" must be the code's meaning\n    code: {meaning}\n    docs: {}",
                row.get(at).map_or("(none)", String::as_str)
            )),
            Some(_) => {}
        }
    }
    for name in rows.keys() {
        if !names.iter().any(|(n, _)| n == name) {
            problems.push(format!("row {name} names nothing the code reports"));
        }
    }
    assert!(
        problems.is_empty(),
        "{doc}, section \"{heading}\" disagrees with the code (the meanings are declared in \
         closed_set! blocks: src/api, src/plan/mod.rs):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_phase_is_in_the_docs_with_its_meaning() {
    let names: Vec<_> = RolloutPhase::ALL
        .iter()
        .map(|p| (p.as_str(), p.meaning()))
        .collect();
    documented("docs/rollout.md", "Phases", "Meaning", &names);
}

#[test]
fn every_condition_type_is_in_the_docs_with_its_meaning() {
    let names: Vec<_> = ConditionType::ALL
        .iter()
        .map(|t| (t.as_str(), t.meaning()))
        .collect();
    documented("docs/rollout.md", "Conditions", "True when", &names);
}

#[test]
fn every_condition_reason_is_in_the_docs_with_its_meaning() {
    let names: Vec<_> = ConditionReason::ALL
        .iter()
        .map(|r| (r.as_str(), r.meaning()))
        .collect();
    documented("docs/rollout.md", "Condition reasons", "Meaning", &names);
}

#[test]
fn every_event_reason_is_in_the_docs_with_its_meaning() {
    let names: Vec<_> = EventReason::ALL
        .iter()
        .map(|r| (r.as_str(), r.meaning()))
        .collect();
    documented("docs/rollout.md", "Events", "Recorded when", &names);
}

#[test]
fn the_plan_id_is_defined_once_in_the_words_of_the_code() {
    let text = read("docs/rollout.md");
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat(&text).contains(PLAN_ID_MEANING),
        "docs/rollout.md must define the plan id as api::PLAN_ID_MEANING says:\n{PLAN_ID_MEANING}"
    );
}

#[test]
fn every_error_category_is_spelled_in_the_docs_as_the_metrics_spell_it() {
    // docs/aws.md is about AWS: the categories that are not AWS errors belong to operations.md.
    for (doc, aws_only) in [("docs/operations.md", false), ("docs/aws.md", true)] {
        let text = read(doc);
        let missing: Vec<&str> = ErrorCategory::all()
            .filter(|c| !aws_only || matches!(c, ErrorCategory::Aws(_)))
            .map(ErrorCategory::as_str)
            .filter(|c| !text.contains(&format!("`{c}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "{doc} does not name the error categories {missing:?}"
        );
    }
}

#[test]
fn troubleshooting_says_what_to_look_at_for_every_condition_reason() {
    let doc = "docs/operations.md";
    let text = read(doc);
    let (_, rows) = table(doc, &text, "Troubleshooting");
    let names: Vec<&str> = ConditionReason::ALL.iter().map(|r| r.as_str()).collect();
    let missing: Vec<&&str> = names.iter().filter(|n| !rows.contains_key(**n)).collect();
    let extra: Vec<&String> = rows.keys().filter(|k| !names.contains(&k.as_str())).collect();
    let empty: Vec<&String> = rows
        .iter()
        .filter(|(_, row)| row.get(1).is_none_or(|c| c.is_empty()))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && empty.is_empty(),
        "{doc}, Troubleshooting: add a row for {missing:?}, remove {extra:?}, say what to look at for {empty:?}"
    );
}

/// The pages of docs/ written for people changing vpce-rollout: they name code and commands.
const DEVELOPER_PAGES: [&str; 2] = ["development.md", "performance.md"];

/// Pages for operators: every page of docs/ but the developer pages, and the README.
fn operator_pages() -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = std::fs::read_dir(repo_path("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !DEVELOPER_PAGES.iter().any(|d| n == *d))
        })
        .map(|p| {
            let name = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    pages.push(("README.md".into(), read("README.md")));
    pages
}

#[test]
fn operator_pages_name_no_rust_item_and_no_test_command() {
    let rust_path = regex::Regex::new(r"\b[a-z_][a-z0-9_]*::[A-Za-z_]").unwrap();
    let mut found = Vec::new();
    for (page, text) in operator_pages() {
        for (n, line) in text.lines().enumerate() {
            let developer = rust_path.is_match(line)
                || line.contains("cargo test")
                || line.contains("src/")
                || line.contains(".rs`");
            if developer {
                found.push(format!("{page}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "implementation names and test commands belong in docs/development.md:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_license_file_is_the_license_cargo_toml_names() {
    let cargo: toml_like::Manifest = toml_like::read(&read("Cargo.toml"));
    assert_eq!(
        cargo.license.as_deref(),
        Some("Apache-2.0"),
        "this test knows Apache-2.0's text"
    );
    let license = read("LICENSE");
    for words in [
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "END OF TERMS AND CONDITIONS",
    ] {
        assert!(
            license.contains(words),
            "LICENSE is not the Apache License 2.0: no {words:?}"
        );
    }
}

/// Just enough of Cargo.toml: the `license` of `[package]`.
mod toml_like {
    pub struct Manifest {
        pub license: Option<String>,
    }

    pub fn read(text: &str) -> Manifest {
        let package = text
            .split("\n[")
            .find(|section| section.starts_with("package]"))
            .unwrap_or_default();
        let license = package.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "license").then(|| value.trim().trim_matches('"').to_string())
        });
        Manifest { license }
    }
}

#[test]
fn the_table_reader_finds_rows_and_columns() {
    let text = "# Doc\n\n## Things\n\nIntro.\n\n| Thing | Meaning |\n|---|---|\n| `A` | The a. |\n| B | The b. |\n\nAfter.\n";
    let (header, rows) = table("doc", text, "Things");
    assert_eq!(header, ["Thing", "Meaning"]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows["A"][1], "The a.");
}
