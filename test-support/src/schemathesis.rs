//! schemathesis (PyPI, installed by `scripts/ensure-api-tools`) against the OpenAPI document a
//! running service serves: its examples, fuzzing and stateful phases, every check but one.
//!
//! Left out:
//! - `positive_data_acceptance`, which expects every request the schema allows to succeed: a
//!   schema cannot say every rule a service checks (a `cursor` it did not give out, a name that
//!   is blank after trimming, a total over the limit), so those answers are 4xx by design.
//! - the coverage phase, which trips on a bug of the CPython these machines have (3.11.7).
//!
//! The seed is fixed (`SCHEMATHESIS_SEED` changes it), so a run is repeatable and a failure can
//! be replayed with the command it prints.

use std::time::Duration;

use tokio::process::Command;

/// The seed unless `SCHEMATHESIS_SEED` says otherwise.
const DEFAULT_SEED: &str = "20261201";

/// The longest a run may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(900);

/// Runs schemathesis against `base_url`'s `/openapi.json` with up to `max_examples` examples per
/// operation and phase; panics with its report unless every check passed on at least
/// `min_requests` generated test cases. Its summary goes to standard error (the test's output).
pub async fn check_api(base_url: &str, max_examples: u32, min_requests: u64) {
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    // Its reports and example database go to a folder of the run's own, not the repository.
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new("schemathesis")
        .arg("run")
        .arg(format!("{base_url}/openapi.json"))
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--phases", "examples,fuzzing,stateful"])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--seed", &seed, "--no-color", "--workers", "2"])
        .current_dir(scratch.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("schemathesis finishes in time")
        .unwrap_or_else(|error| {
            panic!("schemathesis does not run ({error}): run scripts/ensure-api-tools")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures (seed {seed}):\n{text}"
    );
    let generated = generated_test_cases(&text)
        .unwrap_or_else(|| panic!("no count of test cases in the report:\n{text}"));
    assert!(
        generated >= min_requests,
        "only {generated} test cases, fewer than {min_requests}:\n{text}"
    );
    eprintln!("schemathesis against {base_url}:\n{}", summary(&text));
}

/// `N` of the report's "N generated, ..." line.
fn generated_test_cases(report: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        let (count, _) = line.trim().split_once(" generated, ")?;
        count.parse().ok()
    })
}

/// The report from its summary on.
fn summary(report: &str) -> String {
    let start = report.find("SUMMARY").unwrap_or(0);
    report[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_of_test_cases_is_read_from_the_report() {
        let report = "Warnings:\n  1 operation mostly rejected generated data\n\n\
                      Test cases:\n  3631 generated, 3631 passed\n\nSeed: 1\n";
        assert_eq!(generated_test_cases(report), Some(3631));
        assert_eq!(generated_test_cases("nothing here"), None);
    }
}
