//! The part of the Logs Insights query language the readers use, as data: [`render`] writes the
//! query text sent to StartQuery, [`parse`] reads it back, [`execute`] runs it over log events.
//!
//! CloudWatch Logs runs the real thing. The simulated logs ([`super::sim`]) run [`execute`], and
//! the moto launcher (tests/moto/launcher.py) runs the same subset, because moto's Insights
//! knows neither `stats` nor fields inside JSON messages. The subset:
//!
//! - `fields F, ...` (accepted; every discovered field stays available);
//! - `filter C and C ...`, each C one of `F = 'v'`, `F = n`, `F in ['v', ...]`, `F like /re/`;
//! - `stats count(*) as A, max(F) as B, min(F) as C by F, ...`;
//! - `limit N`.
//!
//! Fields are `@timestamp`, `@message`, `@logStream` and, in a JSON message, every value by its
//! dotted path (`srcids.instance`), as Logs Insights discovers them. A regex must not contain
//! `|` (the command separator); names and addresses never need one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::jiff::Timestamp;
use regex::Regex;

/// A query: commands in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Fields(Vec<String>),
    /// Every condition must hold.
    Filter(Vec<Condition>),
    Stats {
        aggregates: Vec<(Aggregate, String)>,
        by: Vec<String>,
    },
    Limit(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Equals(String, Literal),
    In(String, Vec<String>),
    /// The regex as written between the slashes.
    Like(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Text(String),
    Number(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Max(String),
    Min(String),
}

/// The query text, as StartQuery gets it.
pub fn render(query: &Query) -> String {
    let mut parts = Vec::new();
    for command in &query.commands {
        parts.push(match command {
            Command::Fields(fields) => format!("fields {}", fields.join(", ")),
            Command::Filter(conditions) => {
                let text: Vec<String> = conditions.iter().map(render_condition).collect();
                format!("filter {}", text.join(" and "))
            }
            Command::Stats { aggregates, by } => {
                let mut text = String::from("stats ");
                let aggs: Vec<String> = aggregates
                    .iter()
                    .map(|(a, alias)| match a {
                        Aggregate::Count => format!("count(*) as {alias}"),
                        Aggregate::Max(f) => format!("max({f}) as {alias}"),
                        Aggregate::Min(f) => format!("min({f}) as {alias}"),
                    })
                    .collect();
                text.push_str(&aggs.join(", "));
                if !by.is_empty() {
                    let _ = write!(text, " by {}", by.join(", "));
                }
                text
            }
            Command::Limit(n) => format!("limit {n}"),
        });
    }
    parts.join("\n| ")
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn render_condition(condition: &Condition) -> String {
    match condition {
        Condition::Equals(f, Literal::Text(v)) => format!("{f} = {}", quote(v)),
        Condition::Equals(f, Literal::Number(n)) => format!("{f} = {n}"),
        Condition::In(f, values) => {
            let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
            format!("{f} in [{}]", values.join(", "))
        }
        Condition::Like(f, re) => format!("{f} like /{re}/"),
    }
}

/// Reads a query in the subset back; anything else is an error naming what is not understood.
pub fn parse(text: &str) -> Result<Query, String> {
    let mut commands = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (verb, rest) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        let rest = rest.trim();
        commands.push(match verb {
            "fields" => Command::Fields(split_list(rest)),
            "filter" => Command::Filter(parse_conditions(rest)?),
            "stats" => parse_stats(rest)?,
            "limit" => Command::Limit(rest.parse().map_err(|_| format!("limit {rest:?}"))?),
            other => return Err(format!("unsupported command {other:?}")),
        });
    }
    Ok(Query { commands })
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

fn parse_conditions(text: &str) -> Result<Vec<Condition>, String> {
    let mut conditions = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (field, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("condition {rest:?}"))?;
        let after = after.trim_start();
        let (condition, remaining) = if let Some(v) = after.strip_prefix("= ") {
            let v = v.trim_start();
            if v.starts_with('\'') {
                let (value, remaining) = read_quoted(v)?;
                (Condition::Equals(field.into(), Literal::Text(value)), remaining)
            } else {
                let end = v.find(char::is_whitespace).unwrap_or(v.len());
                let n = v[..end].parse().map_err(|_| format!("number {:?}", &v[..end]))?;
                (Condition::Equals(field.into(), Literal::Number(n)), &v[end..])
            }
        } else if let Some(v) = after.strip_prefix("in ") {
            let mut v = v
                .trim_start()
                .strip_prefix('[')
                .ok_or("in without [")?
                .trim_start();
            let mut values = Vec::new();
            loop {
                if let Some(r) = v.strip_prefix(']') {
                    break (Condition::In(field.into(), values), r);
                }
                let (value, r) = read_quoted(v)?;
                values.push(value);
                v = r.trim_start();
                v = v.strip_prefix(',').unwrap_or(v).trim_start();
            }
        } else if let Some(v) = after.strip_prefix("like ") {
            let v = v.trim_start().strip_prefix('/').ok_or("like without /")?;
            let end = v.find('/').ok_or("unterminated regex")?;
            (Condition::Like(field.into(), v[..end].to_string()), &v[end + 1..])
        } else {
            return Err(format!("unsupported condition {rest:?}"));
        };
        conditions.push(condition);
        rest = remaining.trim_start();
        if !rest.is_empty() {
            rest = rest
                .strip_prefix("and ")
                .ok_or_else(|| format!("only `and` joins conditions: {rest:?}"))?
                .trim_start();
        }
    }
    Ok(conditions)
}

/// A single-quoted string with `\\` and `\'` escapes, and what follows it.
fn read_quoted(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('\'')
        .ok_or_else(|| format!("expected a quoted value: {text:?}"))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            '\'' => return Ok((value, &body[i + 1..])),
            c => value.push(c),
        }
    }
    Err(format!("unterminated quote: {text:?}"))
}

fn parse_stats(text: &str) -> Result<Command, String> {
    let (aggs, by) = match text.split_once(" by ") {
        Some((a, b)) => (a, split_list(b)),
        None => (text, Vec::new()),
    };
    let mut aggregates = Vec::new();
    for item in split_list(aggs) {
        let (call, alias) = item
            .split_once(" as ")
            .ok_or_else(|| format!("aggregate without alias: {item:?}"))?;
        let call = call.trim();
        let aggregate = if call == "count(*)" {
            Aggregate::Count
        } else if let Some(f) = call.strip_prefix("max(").and_then(|c| c.strip_suffix(')')) {
            Aggregate::Max(f.trim().to_string())
        } else if let Some(f) = call.strip_prefix("min(").and_then(|c| c.strip_suffix(')')) {
            Aggregate::Min(f.trim().to_string())
        } else {
            return Err(format!("unsupported aggregate {call:?}"));
        };
        aggregates.push((aggregate, alias.trim().to_string()));
    }
    Ok(Command::Stats { aggregates, by })
}

/// One log event as the query sees it.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub timestamp_ms: i64,
    pub message: &'a str,
    pub log_stream: &'a str,
}

/// `@timestamp` as Logs Insights prints it: `2026-12-07 15:50:16.000` (UTC).
pub fn format_timestamp(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// A timestamp as Logs Insights prints it, or epoch milliseconds (what moto's stock fields
/// hold): epoch milliseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let iso = format!("{}Z", text.trim().replacen(' ', "T", 1));
    iso.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

fn discover(record: &Record<'_>) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    fields.insert("@timestamp".to_string(), format_timestamp(record.timestamp_ms));
    fields.insert("@message".to_string(), record.message.to_string());
    fields.insert("@logStream".to_string(), record.log_stream.to_string());
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(record.message) {
        flatten("", &serde_json::Value::Object(map), &mut fields);
    }
    fields
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Runs `query` over `records` as Logs Insights would (within the subset): rows of fields.
pub fn execute(query: &Query, records: &[Record<'_>]) -> Result<Vec<BTreeMap<String, String>>, String> {
    let mut rows: Vec<BTreeMap<String, String>> = records.iter().map(discover).collect();
    // Newest first, as Logs Insights sorts by default.
    rows.sort_by(|a, b| b["@timestamp"].cmp(&a["@timestamp"]));
    let mut limit = None;
    for command in &query.commands {
        match command {
            Command::Fields(_) => {}
            Command::Filter(conditions) => {
                let compiled = compile(conditions)?;
                rows.retain(|row| compiled.iter().all(|c| c.holds(row)));
            }
            Command::Stats { aggregates, by } => rows = stats(&rows, aggregates, by),
            Command::Limit(n) => limit = Some(*n as usize),
        }
    }
    if let Some(n) = limit {
        rows.truncate(n);
    }
    Ok(rows)
}

enum Compiled {
    Equals(String, String),
    In(String, Vec<String>),
    Like(String, Regex),
}

impl Compiled {
    fn holds(&self, row: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Equals(f, v) => row.get(f) == Some(v),
            Self::In(f, values) => row.get(f).is_some_and(|v| values.contains(v)),
            Self::Like(f, re) => row.get(f).is_some_and(|v| re.is_match(v)),
        }
    }
}

fn compile(conditions: &[Condition]) -> Result<Vec<Compiled>, String> {
    conditions
        .iter()
        .map(|c| {
            Ok(match c {
                Condition::Equals(f, Literal::Text(v)) => Compiled::Equals(f.clone(), v.clone()),
                Condition::Equals(f, Literal::Number(n)) => Compiled::Equals(f.clone(), n.to_string()),
                Condition::In(f, values) => Compiled::In(f.clone(), values.clone()),
                Condition::Like(f, re) => Compiled::Like(
                    f.clone(),
                    Regex::new(re).map_err(|e| format!("regex {re:?}: {e}"))?,
                ),
            })
        })
        .collect()
}

fn stats(
    rows: &[BTreeMap<String, String>],
    aggregates: &[(Aggregate, String)],
    by: &[String],
) -> Vec<BTreeMap<String, String>> {
    let mut groups: BTreeMap<Vec<Option<String>>, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for row in rows {
        let key = by.iter().map(|f| row.get(f).cloned()).collect();
        groups.entry(key).or_default().push(row);
    }
    groups
        .into_iter()
        .map(|(key, members)| {
            let mut out = BTreeMap::new();
            for (field, value) in by.iter().zip(key) {
                if let Some(value) = value {
                    out.insert(field.clone(), value);
                }
            }
            for (aggregate, alias) in aggregates {
                let value = match aggregate {
                    Aggregate::Count => Some(members.len().to_string()),
                    Aggregate::Max(f) => members.iter().filter_map(|r| r.get(f)).max().cloned(),
                    Aggregate::Min(f) => members.iter().filter_map(|r| r.get(f)).min().cloned(),
                };
                if let Some(value) = value {
                    out.insert(alias.clone(), value);
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query {
            commands: vec![
                Command::Fields(vec!["@timestamp".into(), "srcaddr".into()]),
                Command::Filter(vec![
                    Condition::Like(
                        "query_name".into(),
                        r"(?i)^(.*\.)?logs\.ap-northeast-1\.amazonaws\.com\.?$".into(),
                    ),
                    Condition::Equals("action".into(), Literal::Text("it's".into())),
                    Condition::In("dstaddr".into(), vec!["10.0.1.5".into(), "10.0.2.5".into()]),
                    Condition::Equals("dstport".into(), Literal::Number(443)),
                ]),
                Command::Stats {
                    aggregates: vec![
                        (Aggregate::Count, "queries".into()),
                        (Aggregate::Max("@timestamp".into()), "lastSeen".into()),
                    ],
                    by: vec!["srcaddr".into(), "srcids.instance".into()],
                },
                Command::Limit(10000),
            ],
        }
    }

    #[test]
    fn a_rendered_query_parses_back_to_itself() {
        let q = query();
        let text = render(&q);
        assert!(
            text.contains(
                "stats count(*) as queries, max(@timestamp) as lastSeen by srcaddr, srcids.instance"
            )
        );
        assert_eq!(parse(&text).unwrap(), q);
    }

    #[test]
    fn stats_group_json_fields_by_their_dotted_paths() {
        let q = parse(
            "filter query_name like /(?i)^(.*\\.)?logs\\.ap-northeast-1\\.amazonaws\\.com\\.?$/ \
             | stats count(*) as queries, max(@timestamp) as lastSeen by srcaddr, srcids.instance",
        )
        .unwrap();
        let a = r#"{"query_name":"logs.ap-northeast-1.amazonaws.com.","srcaddr":"10.0.1.10","srcids":{"instance":"i-1"}}"#;
        let b = r#"{"query_name":"LOGS.ap-northeast-1.amazonaws.com.","srcaddr":"10.0.1.10","srcids":{"instance":"i-1"}}"#;
        let other = r#"{"query_name":"ec2.ap-northeast-1.amazonaws.com.","srcaddr":"10.0.1.11"}"#;
        let onprem = r#"{"query_name":"x.logs.ap-northeast-1.amazonaws.com.","srcaddr":"192.168.0.4","srcids":{"resolver_endpoint":"rslvr-in-1"}}"#;
        let records = [
            Record {
                timestamp_ms: 1_000,
                message: a,
                log_stream: "s",
            },
            Record {
                timestamp_ms: 5_000,
                message: b,
                log_stream: "s",
            },
            Record {
                timestamp_ms: 6_000,
                message: other,
                log_stream: "s",
            },
            Record {
                timestamp_ms: 7_000,
                message: onprem,
                log_stream: "s",
            },
        ];
        let rows = execute(&q, &records).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let eni = rows.iter().find(|r| r["srcaddr"] == "10.0.1.10").unwrap();
        assert_eq!(eni["queries"], "2");
        assert_eq!(eni["srcids.instance"], "i-1");
        assert_eq!(parse_timestamp(&eni["lastSeen"]), Some(5_000));
        let onprem = rows.iter().find(|r| r["srcaddr"] == "192.168.0.4").unwrap();
        assert!(
            !onprem.contains_key("srcids.instance"),
            "absent fields stay absent"
        );
    }

    #[test]
    fn what_the_subset_does_not_know_is_refused_by_name() {
        assert!(parse("parse @message 'x'").unwrap_err().contains("parse"));
        assert!(parse("filter a = 'x' or b = 'y'").unwrap_err().contains("and"));
        assert!(parse("stats avg(bytes) as a").unwrap_err().contains("avg"));
    }

    #[test]
    fn timestamps_read_back_in_both_spellings() {
        let ms = 1_796_659_816_123;
        assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms));
        assert_eq!(parse_timestamp("1796659816123"), Some(ms));
    }
}
