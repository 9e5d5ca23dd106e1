//! The files of `deploy/observability`: the alerting rules pass `promtool check rules` and their
//! unit tests and load in the compose stack's Prometheus configuration; the Grafana dashboard's
//! panels have ids of their own and queries that parse; and the rules and the dashboard use only
//! metrics that `docs/operations.md` documents, or Prometheus' `up` and the broker's
//! `rabbitmq_*`. promtool comes with Prometheus (`scripts/ensure-prometheus`, which `scripts/test`
//! runs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const RULES: &str = "deploy/observability/alerts.yml";
const RULE_TESTS: &str = "deploy/observability/alerts.test.yml";
const DASHBOARD: &str = "deploy/observability/dashboards/order-platform.json";
const METRICS_DOC: &str = "docs/operations.md";
const COMPOSE_PROMETHEUS: &str = "deploy/compose/prometheus/prometheus.yml";
const COMPOSE_DATASOURCES: &str = "deploy/compose/grafana/datasources.yml";

/// The header of the metrics table in `docs/operations.md`.
const METRICS_TABLE_HEADER: &str = "| metric | type | labels | what it says |";

/// Words of PromQL that are not metric names although no parenthesis may follow them:
/// aggregations (`sum by (le) (...)`), operators, modifiers and the literals `inf` and `nan`
/// (and [`LABEL_LIST_KEYWORDS`]). Any other word followed by a parenthesis is a function.
const PROMQL_KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// Keywords followed by a list of label names in parentheses, which are not metrics either.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

#[test]
fn the_alert_rules_pass_promtool_check() {
    promtool(&["check", "rules", RULES]);
}

#[test]
fn the_alert_rules_pass_their_unit_tests() {
    promtool(&["test", "rules", RULE_TESTS]);
}

#[test]
fn the_compose_prometheus_loads_the_alert_rules() {
    // The compose file mounts the rules beside the configuration, which names them relatively.
    let dir = Scratch::new("compose-prometheus");
    copy(COMPOSE_PROMETHEUS, &dir.join("prometheus.yml"));
    copy(RULES, &dir.join("alerts.yml"));
    promtool(&["check", "config", path_str(&dir.join("prometheus.yml"))]);
}

#[test]
fn every_dashboard_panel_has_an_id_of_its_own_and_the_datasource_variable() {
    let dashboard = dashboard();
    let mut seen = BTreeMap::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        let id = panel["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("panel {title:?} has no numeric id"));
        if let Some(other) = seen.insert(id, title) {
            panic!("panels {other:?} and {title:?} share the id {id}");
        }
        if panel["type"] == "row" {
            continue;
        }
        let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
        assert_eq!(
            panel["datasource"], datasource,
            "panel {title:?} must query the data source chosen by ${{datasource}}"
        );
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(
                target["datasource"], datasource,
                "a query of panel {title:?} must use ${{datasource}}"
            );
        }
    }
    assert!(!seen.is_empty(), "no panel found in {DASHBOARD}");
}

#[test]
fn the_dashboard_defaults_to_the_prometheus_that_compose_provisions() {
    let dashboard = dashboard();
    let variable = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|variable| variable["name"] == "datasource")
        .expect("the dashboard has a `datasource` variable");
    assert_eq!(variable["type"], "datasource");
    assert_eq!(variable["query"], "prometheus");
    let uid = variable["current"]["value"]
        .as_str()
        .expect("the `datasource` variable has a default");
    let provisioned = read(COMPOSE_DATASOURCES);
    let prometheus = provisioned
        .split("\n  - ")
        .find(|entry| entry.contains("type: prometheus"))
        .expect("compose provisions a Prometheus data source");
    assert!(
        prometheus
            .lines()
            .any(|line| line.trim() == format!("uid: {uid}")),
        "the dashboard defaults to the data source {uid:?}, which {COMPOSE_DATASOURCES} does not \
         give its Prometheus:\n{prometheus}"
    );
}

#[test]
fn the_dashboard_queries_parse() {
    // promtool parses PromQL in rules, so each query becomes a recording rule, with Grafana's
    // variables replaced by what they stand for. JSON is YAML, so serde_json writes the file.
    let rules: Vec<Value> = dashboard_queries(&dashboard())
        .into_iter()
        .enumerate()
        .map(|(index, (panel, expr))| {
            json!({
                "record": format!("dashboard:query_{index}"),
                "expr": without_grafana_variables(&expr),
                "labels": {"panel": panel},
            })
        })
        .collect();
    let dir = Scratch::new("dashboard-queries");
    let file = dir.join("queries.yml");
    let document = json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(&file, document.to_string()).expect("the queries are written");
    promtool(&["check", "rules", path_str(&file)]);
}

#[test]
fn the_rules_and_the_dashboard_use_only_documented_metrics() {
    let documented = documented_metrics();
    let rules = rule_expressions();
    let queries = dashboard_queries(&dashboard());
    let mut undocumented = BTreeMap::<String, BTreeSet<String>>::new();
    let uses = rules
        .iter()
        .map(|(alert, expr)| (format!("alert {alert}"), expr))
        .chain(
            queries
                .iter()
                .map(|(panel, expr)| (format!("panel {panel:?}"), expr)),
        );
    for (user, expr) in uses {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric found in {user}: {expr}");
        for name in names {
            let builtin = name == "up" || name.starts_with("rabbitmq_");
            if !builtin && !documented.contains(&name) {
                undocumented.entry(name).or_default().insert(user.clone());
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "metrics missing from the table of {METRICS_DOC}: {undocumented:#?}"
    );
}

#[test]
fn the_metric_name_tokenizer_skips_everything_but_metrics() {
    let cases = [
        (
            r#"sum by (service, le) (rate(http_request_duration_seconds_bucket{service=~"$service", route="/orders/{id}"}[$__rate_interval]))"#,
            vec!["http_request_duration_seconds"],
        ),
        (
            r#"a_total / on (service) group_left sum without (kind) (b_count offset 5m) > bool 0.1"#,
            vec!["a_total", "b"],
        ),
        (
            "label_replace(vector(8), \"service\", \"billing\", \"\", \"\") # not_a_metric\n- up",
            vec!["up"],
        ),
        (
            "histogram_quantile(0.99, x_bucket) and on () (y_sum[5m:1m]) or 1e3",
            vec!["x", "y"],
        ),
    ];
    for (expr, expected) in cases {
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
        assert_eq!(metric_names(expr), expected, "metric names of {expr}");
    }
}

/// Runs promtool from the repository's root; fails with its output unless it succeeds.
fn promtool(arguments: &[&str]) {
    let output = Command::new("promtool")
        .args(arguments)
        .current_dir(stack_tests::repository())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run promtool ({error}): run scripts/ensure-prometheus, which installs it \
                 (scripts/test does)"
            )
        });
    assert!(
        output.status.success(),
        "promtool {} failed:\n{}{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The text of a file of the repository.
fn read(path: &str) -> String {
    let path = stack_tests::repository().join(path);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Copies a file of the repository to `to`.
fn copy(path: &str, to: &Path) {
    std::fs::copy(stack_tests::repository().join(path), to)
        .unwrap_or_else(|error| panic!("cannot copy {path} to {}: {error}", to.display()));
}

/// A new, empty directory for one test's files, removed when dropped (a failing test's too).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("observability-files-{name}-{}", std::process::id()));
        // A directory left by an earlier run with the same process id holds nothing of ours.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the scratch directory is created");
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are Unicode")
}

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD))
        .unwrap_or_else(|error| panic!("{DASHBOARD} is not JSON: {error}"))
}

/// Every panel of the dashboard, rows and the panels inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, into: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            into.push(panel);
            walk(&panel["panels"], into);
        }
    }
    let mut all = Vec::new();
    walk(&dashboard["panels"], &mut all);
    all
}

/// Every query of the dashboard's panels, with its panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("a query of panel {title:?} has no expr"));
            queries.push((title.to_owned(), expr.to_owned()));
        }
    }
    assert!(!queries.is_empty(), "no query found in {DASHBOARD}");
    queries
}

/// Each alert's name and expression, read from the rules file as it is written: `expr:` either
/// holds the expression on its line or opens a block (`|` or `>`) of the lines indented deeper.
fn rule_expressions() -> Vec<(String, String)> {
    let text = read(RULES);
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = Vec::new();
    let mut alert = None;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            alert = Some(name.trim().to_owned());
        }
        let Some(value) = trimmed.strip_prefix("expr:") else {
            continue;
        };
        let name = alert
            .take()
            .unwrap_or_else(|| panic!("{RULES}:{}: an expression with no alert name", index + 1));
        let value = value.trim();
        let expr = if value.starts_with('|') || value.starts_with('>') {
            let indent = line.len() - trimmed.len();
            lines[index + 1..]
                .iter()
                .take_while(|next| {
                    next.trim().is_empty() || next.len() - next.trim_start().len() > indent
                })
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            value.to_owned()
        };
        rules.push((name, expr));
    }
    let alerts = lines
        .iter()
        .filter(|line| line.trim_start().starts_with("- alert:"))
        .count();
    assert_eq!(
        rules.len(),
        alerts,
        "{RULES} has {alerts} alerts but {} expressions were read",
        rules.len()
    );
    assert!(!rules.is_empty(), "no alert found in {RULES}");
    rules
}

/// The metric names of the first column of the metrics table in `docs/operations.md`.
fn documented_metrics() -> BTreeSet<String> {
    let text = read(METRICS_DOC);
    let names: BTreeSet<String> = text
        .lines()
        .skip_while(|line| line.trim() != METRICS_TABLE_HEADER)
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .filter_map(|row| {
            let cell = row.split('|').nth(1)?.trim();
            Some(cell.strip_prefix('`')?.strip_suffix('`')?.to_owned())
        })
        .collect();
    assert!(
        !names.is_empty(),
        "no metrics table ({METRICS_TABLE_HEADER}) found in {METRICS_DOC}"
    );
    names
}

/// The metric names a PromQL expression (or a Grafana query) selects, without the `_bucket`,
/// `_sum` and `_count` of a histogram's series. Strings, label matchers, ranges, comments,
/// numbers, Grafana variables, functions, keywords and label lists are skipped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '#' {
            at = skip_while(&chars, at, |c| c != '\n');
        } else if matches!(c, '"' | '\'' | '`') {
            at = skip_string(&chars, at);
        } else if c == '{' {
            at = skip_group(&chars, at, '{', '}');
        } else if c == '[' {
            at = skip_group(&chars, at, '[', ']');
        } else if c == '$' {
            at = if chars.get(at + 1) == Some(&'{') {
                skip_group(&chars, at + 1, '{', '}')
            } else {
                skip_while(&chars, at + 1, is_identifier_char)
            };
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(at + 1).is_some_and(char::is_ascii_digit))
        {
            // Numbers and durations: 0.99, 1e3, 5m.
            at = skip_while(&chars, at, |c| c.is_ascii_alphanumeric() || c == '.');
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let end = skip_while(&chars, at, is_identifier_char);
            let word: String = chars[at..end].iter().collect();
            let next = skip_while(&chars, end, char::is_whitespace);
            let opens = chars.get(next) == Some(&'(');
            at = end;
            if LABEL_LIST_KEYWORDS.contains(&word.as_str()) && opens {
                at = skip_group(&chars, next, '(', ')');
            } else if !opens
                && !PROMQL_KEYWORDS.contains(&word.as_str())
                && !LABEL_LIST_KEYWORDS.contains(&word.as_str())
            {
                names.insert(histogram_family(&word).to_owned());
            }
        } else {
            at += 1;
        }
    }
    names
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The histogram a series name belongs to: the name less `_bucket`, `_sum` or `_count`.
fn histogram_family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

/// The index of the first char from `at` on that does not satisfy `keep`.
fn skip_while(chars: &[char], at: usize, keep: impl Fn(char) -> bool) -> usize {
    chars[at..]
        .iter()
        .position(|&c| !keep(c))
        .map_or(chars.len(), |offset| at + offset)
}

/// The index just past the string that opens at `at`, backslash escapes included.
fn skip_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let mut index = at + 1;
    while index < chars.len() {
        match chars[index] {
            '\\' if quote != '`' => index += 2,
            c if c == quote => return index + 1,
            _ => index += 1,
        }
    }
    chars.len()
}

/// The index just past the group that `open` starts at `at` and its `close` ends, skipping the
/// strings inside (a route such as `"/orders/{id}"` holds braces).
fn skip_group(chars: &[char], at: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut index = at;
    while index < chars.len() {
        let c = chars[index];
        if matches!(c, '"' | '\'' | '`') {
            index = skip_string(chars, index);
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return index + 1;
            }
        }
        index += 1;
    }
    chars.len()
}

/// A Grafana query as Prometheus would receive it: intervals (`$__rate_interval`) become `5m`
/// and other variables (`$service`, `${service}`) the regular expression that matches all.
fn without_grafana_variables(query: &str) -> String {
    let chars: Vec<char> = query.chars().collect();
    let mut plain = String::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at] != '$' {
            plain.push(chars[at]);
            at += 1;
            continue;
        }
        let (name, end) = if chars.get(at + 1) == Some(&'{') {
            let end = skip_group(&chars, at + 1, '{', '}');
            let name = chars[at + 2..end].iter().take_while(|&&c| c != '}');
            (name.collect::<String>(), end)
        } else {
            let end = skip_while(&chars, at + 1, is_identifier_char);
            (chars[at + 1..end].iter().collect::<String>(), end)
        };
        plain.push_str(if name.starts_with("__") { "5m" } else { ".*" });
        at = end;
    }
    plain
}
