//! Hostile input for the snapshot loader, the analysis and the rollout decision: whatever a
//! snapshot file says, reading it, analysing it and deciding on it never panics. A panic in the
//! controller is a crash loop, in `plan` a stack trace instead of a message.
//!
//! Two sources of input, both starting from the incident snapshot so that most cases get past
//! the parser and reach the analysis:
//! - byte edits of its text (JSON syntax broken, truncated, doubled, numbers mangled);
//! - value edits of its JSON tree at random paths (a value of another type, a boundary number,
//!   an address of the other family or none, a key removed, an element doubled).
//!
//! Bounded in the test command ([`CASES`] per property, a few seconds); more with
//! `PROPTEST_CASES=20000 cargo test --lib analysis::fuzz_tests -- --nocapture`, which prints
//! how far the inputs got. Every finding became a named
//! regression test where the code it concerns is tested.

use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use crate::api::{InterfaceEndpointStatus, Owner};
use crate::cli::manifest;
use crate::model::Snapshot;
use crate::plan::{PlanInput, Timing, decide};

/// Cases per property in the test command.
const CASES: u32 = 512;

const SNAPSHOT: &str = include_str!("../../tests/fixtures/incident-snapshot.json");
const MANIFEST: &str = include_str!("../../tests/fixtures/incident-endpoint.yaml");

/// How far an input got.
#[derive(Clone, Copy, Debug, Default)]
struct Reached {
    inputs: usize,
    /// Refused by the loader, with a message.
    refused: usize,
    /// Analysed without error, then decided on.
    analysed: usize,
    /// Loaded, but the analysis refused it (an error, never a panic).
    analysis_errors: usize,
}

/// Reads `text` as `plan` does, then analyses and decides as the controller does. Must not
/// panic; `reached` counts how far it got.
fn read_analyse_decide(text: &str, reached: &mut Reached) {
    reached.inputs += 1;
    let Ok(world) = Snapshot::from_json(text) else {
        reached.refused += 1;
        return;
    };
    let manifest = manifest::parse(MANIFEST).expect("the incident manifest parses");
    let owner = Owner {
        uid: "0d8a7c61-5e3b-4b7a-9a35-1c0ffee00001".into(),
        ..manifest.owner()
    };
    let analysis = crate::analysis::analyze(&manifest.spec, Some(&owner), &world);
    if analysis.is_ok() {
        reached.analysed += 1;
    } else {
        reached.analysis_errors += 1;
    }
    let status = InterfaceEndpointStatus::default();
    let input = PlanInput {
        spec: &manifest.spec,
        generation: Some(1),
        owner: &owner,
        deleting: false,
        status: &status,
        world: &world,
        region: None,
        analysis: &analysis,
        config: &Default::default(),
        analysis_as_specified: None,
        successors: &[],
        approver: Default::default(),
        rollback: None,
        seen_off: &crate::plan::resolution::NOTHING_SEEN,
        now: Timestamp::UNIX_EPOCH,
    };
    let decision = decide(&input, &Timing::default());
    // And once more with what the first pass reported, as the next reconcile would.
    let input = PlanInput {
        status: &decision.status,
        ..input
    };
    decide(&input, &Timing::default());
}

/// One edit of the text: at a position (taken modulo its length), insert, replace or delete a
/// byte, truncate, or double the text (what `cat` of two files gives).
#[derive(Clone, Debug)]
enum ByteEdit {
    Insert(usize, u8),
    Replace(usize, u8),
    Delete(usize),
    Truncate(usize),
    Double,
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let byte = select(b"{}[]\":,0123456789-+.eE \n\\tfnul/x".to_vec());
    prop_oneof![
        4 => (any::<usize>(), byte.clone()).prop_map(|(at, b)| ByteEdit::Insert(at, b)),
        4 => (any::<usize>(), byte).prop_map(|(at, b)| ByteEdit::Replace(at, b)),
        4 => any::<usize>().prop_map(ByteEdit::Delete),
        1 => any::<usize>().prop_map(ByteEdit::Truncate),
        1 => Just(ByteEdit::Double),
    ]
}

fn apply_bytes(text: &str, edits: &[ByteEdit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            ByteEdit::Insert(at, b) => bytes.insert(at % (len + 1).min(bytes.len() + 1), b),
            ByteEdit::Replace(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            ByteEdit::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            ByteEdit::Truncate(at) => bytes.truncate(at % len),
            ByteEdit::Double => bytes.extend(text.as_bytes()),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Values chosen to sit on the edges of what the code reads: rule numbers, ports, protocols,
/// addresses of both families, prefixes out of range, ids, states.
fn edge_value() -> impl Strategy<Value = Value> {
    let numbers: Vec<i64> = vec![
        -1,
        0,
        1,
        442,
        443,
        1023,
        1024,
        32766,
        32767,
        32768,
        65535,
        65536,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::MAX,
    ];
    let strings: Vec<&str> = vec![
        "",
        "tcp",
        "udp",
        "-1",
        "6",
        "icmpv6",
        "allow",
        "deny",
        "available",
        "pending",
        "deleted",
        "0.0.0.0/0",
        "::/0",
        "10.0.0.0/8",
        "10.0.0.0/33",
        "10.20.1.0/24",
        "10.20.2.31",
        "10.20.2.31/32",
        "2001:db8::/32",
        "2001:db8::/129",
        "fe80::1%eth0",
        "256.0.0.1",
        " 10.0.0.0/8 ",
        "banana",
        "vpc-0c0ffee0000000001",
        "subnet-0a00000000000a001",
        "sg-0e00000000000e001",
        "pl-0000000000000000",
        "eni-0b00000000000b001",
        "com.amazonaws.ap-northeast-1.logs",
        "logs.ap-northeast-1.amazonaws.com",
        "vpce-rollout.dev/owner",
        "monitoring/logs",
    ];
    prop_oneof![
        4 => select(numbers).prop_map(Value::from),
        6 => select(strings).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(Value::Array(Vec::new())),
        1 => Just(Value::Object(Default::default())),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

/// One edit of the JSON tree: the path is a list of choices, each taken modulo the number of
/// children where it is applied, so every edit lands somewhere.
#[derive(Clone, Debug)]
enum TreeEdit {
    Set(Vec<usize>, Value),
    Remove(Vec<usize>),
    DoubleElement(Vec<usize>),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    let path = prop::collection::vec(any::<usize>(), 1..7);
    prop_oneof![
        6 => (path.clone(), edge_value()).prop_map(|(p, v)| TreeEdit::Set(p, v)),
        2 => path.clone().prop_map(TreeEdit::Remove),
        1 => path.prop_map(TreeEdit::DoubleElement),
    ]
}

/// The container at the end of `path` (stopping early at a leaf), and the child index chosen in
/// it.
fn walk<'v>(mut at: &'v mut Value, path: &[usize]) -> Option<(&'v mut Value, usize)> {
    let (last, inner) = path.split_last()?;
    for choice in inner {
        let len = match &*at {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => break,
        };
        if len == 0 {
            break;
        }
        let next_is_container = match &*at {
            Value::Array(a) => a[choice % len].is_array() || a[choice % len].is_object(),
            Value::Object(o) => o
                .values()
                .nth(choice % len)
                .is_some_and(|v| v.is_array() || v.is_object()),
            _ => false,
        };
        if !next_is_container {
            break;
        }
        at = match at {
            Value::Array(a) => &mut a[choice % len],
            Value::Object(o) => o.values_mut().nth(choice % len).expect("in range"),
            _ => unreachable!("checked above"),
        };
    }
    Some((at, *last))
}

fn apply_tree(root: &mut Value, edit: &TreeEdit) {
    let (TreeEdit::Set(path, _) | TreeEdit::Remove(path) | TreeEdit::DoubleElement(path)) = edit;
    let Some((container, choice)) = walk(root, path) else {
        return;
    };
    match (container, edit) {
        (Value::Array(a), TreeEdit::Set(_, v)) if !a.is_empty() => {
            let i = choice % a.len();
            a[i] = v.clone();
        }
        (Value::Object(o), TreeEdit::Set(_, v)) if !o.is_empty() => {
            let key = o.keys().nth(choice % o.len()).expect("in range").clone();
            o.insert(key, v.clone());
        }
        (Value::Array(a), TreeEdit::Remove(_)) if !a.is_empty() => {
            a.remove(choice % a.len());
        }
        (Value::Object(o), TreeEdit::Remove(_)) if !o.is_empty() => {
            let key = o.keys().nth(choice % o.len()).expect("in range").clone();
            o.remove(&key);
        }
        (Value::Array(a), TreeEdit::DoubleElement(_)) if !a.is_empty() => {
            let item = a[choice % a.len()].clone();
            a.push(item);
        }
        _ => {}
    }
}

/// Runs `strategy`'s cases through [`read_analyse_decide`] (a panic fails the test with the
/// shrunk input) and prints how far they got.
fn fuzz<S: Strategy>(name: &str, strategy: S, text_of: impl Fn(&S::Value) -> String) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let reached = std::cell::RefCell::new(Reached::default());
    let result = runner.run(&strategy, |value| {
        read_analyse_decide(&text_of(&value), &mut reached.borrow_mut());
        Ok(())
    });
    let r = reached.into_inner();
    println!(
        "{name}: {} inputs: {} refused by the loader, {} analysed and decided on, {} analysis errors",
        r.inputs, r.refused, r.analysed, r.analysis_errors
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

#[test]
fn fuzz_snapshot_text_never_panics_the_loader_the_analysis_or_the_plan() {
    fuzz("byte edits", prop::collection::vec(byte_edit(), 1..6), |edits| {
        apply_bytes(SNAPSHOT, edits)
    });
}

#[test]
fn fuzz_snapshot_values_never_panic_the_loader_the_analysis_or_the_plan() {
    fuzz("value edits", prop::collection::vec(tree_edit(), 1..6), |edits| {
        let mut tree: Value = serde_json::from_str(SNAPSHOT).expect("the fixture is JSON");
        for edit in edits {
            apply_tree(&mut tree, edit);
        }
        tree.to_string()
    });
}

#[test]
fn the_unedited_fixture_goes_all_the_way_through() {
    // The harness itself must reach the analysis, or the properties above test nothing.
    let world = Snapshot::from_json(SNAPSHOT).unwrap();
    let manifest = manifest::parse(MANIFEST).unwrap();
    assert!(crate::analysis::analyze(&manifest.spec, Some(&manifest.owner()), &world).is_ok());
    let mut reached = Reached::default();
    read_analyse_decide(SNAPSHOT, &mut reached);
    assert_eq!(reached.analysed, 1);
}
