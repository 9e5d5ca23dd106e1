//! What every service binary's command line must do: `--version`, `--help`, exit code 2 for a
//! usage error, refuse an unknown configuration key by name, stop at once on a malformed
//! broker URL without printing its password, and check and repair its data files. [`command_line_tests!`](crate::command_line_tests)
//! writes these tests for a binary.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use shared_events::storage::failure_log::{FailureLog, FailureRecord};
use tokio::process::Command;

/// How long a binary may take to refuse a bad configuration.
pub const REFUSAL_LIMIT: Duration = Duration::from_secs(10);

/// The password the malformed URLs carry; it must appear in no output.
const PASSWORD: &str = "s3cretPW";

/// Broker URLs that must stop a service at startup, each with a password in it.
pub const MALFORMED_BROKER_URLS: [&str; 6] = [
    "amqp://user:s3cretPW@",
    "amqp:user:s3cretPW@localhost",
    "amqp//user:s3cretPW@localhost",
    "http://user:s3cretPW@localhost",
    "amqp://user:s3cretPW@localhost:99999/%2f",
    "amqp://user:s3cretPW@localhost/one/two",
];

/// Mail server URLs that must stop a service at startup, each with a password in it: not
/// URLs, a scheme or TLS mode that is not SMTP's, no host, and a password over a connection
/// that is not encrypted.
pub const REFUSED_SMTP_URLS: [&str; 9] = [
    "smtp:mailer:s3cretPW@localhost",
    "smtp//mailer:s3cretPW@localhost",
    "http://mailer:s3cretPW@localhost",
    "smtps://mailer:s3cretPW@",
    "smtps://mailer:s3cretPW@localhost:99999",
    "smtp://mailer:s3cretPW@localhost?tls=sometimes",
    "smtp://mailer:s3cretPW@localhost:25",
    "smtp://mailer:s3cretPW@localhost:587?tls=opportunistic",
    "smtp://mailer:s3cret%50W@localhost:25",
];

/// Writes the command-line tests for the binary `$name` of the calling crate.
#[macro_export]
macro_rules! command_line_tests {
    ($name:literal) => {
        const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", $name));

        #[tokio::test]
        async fn version_help_and_usage_errors() {
            $crate::command_line::version_help_and_usage_errors(
                BINARY,
                $name,
                env!("CARGO_PKG_VERSION"),
            )
            .await;
        }

        #[tokio::test]
        async fn an_unknown_configuration_key_is_refused_by_name() {
            $crate::command_line::unknown_keys_are_refused(BINARY).await;
        }

        #[tokio::test]
        async fn a_malformed_broker_url_stops_it_without_printing_the_password() {
            $crate::command_line::malformed_broker_urls_are_refused(BINARY).await;
        }

        #[tokio::test]
        async fn tokens_are_made_once_listed_without_secrets_and_revoked() {
            $crate::command_line::tokens_create_list_revoke(BINARY).await;
        }

        #[tokio::test]
        async fn a_bad_tokens_file_is_refused_without_printing_what_it_holds() {
            $crate::command_line::bad_token_files_are_refused(BINARY).await;
        }

        #[tokio::test]
        async fn data_check_finds_a_damaged_record_and_data_repair_drops_only_it() {
            $crate::command_line::data_check_and_repair(BINARY).await;
        }
    };
}

/// `--version` and `--help` print to standard output and exit 0; an unknown option or command
/// exits 2 and names it on standard error.
pub async fn version_help_and_usage_errors(binary: &str, name: &str, version: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(binary, dir.path(), &["--version"], &[]).await;
    assert_eq!(exit_code(&output), 0, "--version: {}", text(&output));
    assert_eq!(stdout(&output), format!("{name} {version}\n"), "--version");

    let output = run(binary, dir.path(), &["--help"], &[]).await;
    assert_eq!(exit_code(&output), 0, "--help: {}", text(&output));
    let help = stdout(&output);
    for expected in [
        &format!("Usage: {name}"),
        "--config <FILE>",
        "--version",
        "failures",
        "ORDERS__",
    ] {
        assert!(
            help.contains(expected),
            "--help lacks `{expected}`:\n{help}"
        );
    }

    for (args, named) in [
        (&["--frobnicate"][..], "--frobnicate"),
        (&["frobnicate"], "frobnicate"),
        (&["--config"], "--config"),
        (&["failures", "replay"], "replay"),
    ] {
        let output = run(binary, dir.path(), args, &[]).await;
        assert_eq!(exit_code(&output), 2, "{args:?}: {}", text(&output));
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            error.contains(named),
            "{args:?} should name `{named}`: {error}"
        );
    }
}

/// A key no part of the service knows, from the environment or from `--config`, stops it with
/// a message that names the key.
pub async fn unknown_keys_are_refused(binary: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(
        binary,
        dir.path(),
        &[],
        &[("ORDERS__HTTP__ADR", "127.0.0.1:1")],
    )
    .await;
    assert_ne!(
        exit_code(&output),
        0,
        "an unknown variable: {}",
        text(&output)
    );
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("`http.adr`") && error.contains("ORDERS__HTTP__ADR"),
        "the message names the key: {error}"
    );

    let file = dir.path().join("typo.toml");
    std::fs::write(&file, "[amqp]\nnamespce = \"orders\"\n").expect("a config file");
    let config = file.to_str().expect("a UTF-8 path");
    let output = run(binary, dir.path(), &["--config", config], &[]).await;
    assert_ne!(
        exit_code(&output),
        0,
        "an unknown key in a file: {}",
        text(&output)
    );
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("`amqp.namespce`"),
        "the message names the key: {error}"
    );
}

/// Each of [`MALFORMED_BROKER_URLS`] stops the binary within [`REFUSAL_LIMIT`] with a non-zero
/// exit, a message about the broker URL, and the password nowhere in its output.
pub async fn malformed_broker_urls_are_refused(binary: &str) {
    for url in MALFORMED_BROKER_URLS {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = run(binary, dir.path(), &[], &[("ORDERS__AMQP__URL", url)]).await;
        let all = text(&output);
        assert_ne!(exit_code(&output), 0, "{url}: {all}");
        assert!(
            all.contains("broker URL"),
            "{url}: the message says what is wrong: {all}"
        );
        assert!(
            !all.contains(PASSWORD),
            "{url}: the password printed: {all}"
        );
    }
}

/// Every URL of [`REFUSED_SMTP_URLS`] stops `binary` (one that sends email) with a message
/// about the mail server URL, and the password appears nowhere in its output.
pub async fn refused_smtp_urls_do_not_print_the_password(binary: &str) {
    for url in REFUSED_SMTP_URLS {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = run(binary, dir.path(), &[], &[("ORDERS__SMTP__URL", url)]).await;
        let all = text(&output);
        assert_ne!(exit_code(&output), 0, "{url}: {all}");
        assert!(
            all.contains("mail server URL"),
            "{url}: the message says what is wrong: {all}"
        );
        for secret in [PASSWORD, "s3cret%50W"] {
            assert!(!all.contains(secret), "{url}: the password printed: {all}");
        }
    }
}

/// What the bad tokens files carry, twice, after `orders_` as a token would: it must appear in
/// no output, not even once.
const TOKEN_SECRET: &str = "s3cretTOKEN";

/// Tokens files that every binary must refuse, each with [`TOKEN_SECRET`] where it does not
/// belong (as a role, a name, a hash, a key, a bare string) or cut short or not JSON at all.
pub const BAD_TOKEN_FILES: [&str; 10] = [
    r#"{"tokens":[{"name":"ci","role":"orders_s3cretTOKENs3cretTOKEN","sha256":"00000000000000000000000000000000000000000000000000000000000000ff","created_at":"2026-01-01T00:00:00Z"}]}"#,
    r#"{"tokens":[{"name":"orders_s3cretTOKENs3cretTOKEN!","role":"admin","sha256":"00000000000000000000000000000000000000000000000000000000000000ff","created_at":"2026-01-01T00:00:00Z"}]}"#,
    r#"{"tokens":[{"name":"ci","role":"admin","sha256":"orders_s3cretTOKENs3cretTOKEN","created_at":"2026-01-01T00:00:00Z"}]}"#,
    r#"{"tokens":[{"name":"ci","role":"admin","sha256":"00000000000000000000000000000000000000000000000000000000000000ff","created_at":"orders_s3cretTOKENs3cretTOKEN"}]}"#,
    r#"{"tokens":[{"name":"ci","role":"admin","token":"orders_s3cretTOKENs3cretTOKEN"}]}"#,
    r#"{"tokens":["orders_s3cretTOKENs3cretTOKEN"]}"#,
    r#"{"orders_s3cretTOKENs3cretTOKEN":[]}"#,
    r#"{"tokens":[{"name":"ci","role":"admin","sha256":"orders_s3cretTOKENs3cretTOKEN"#,
    "orders_s3cretTOKENs3cretTOKEN\n",
    "",
];

/// `tokens create` prints a new token alone on standard output, and the tokens file (by
/// default `./data/tokens.json`, or `ORDERS__AUTH__TOKENS_FILE`) holds only its hash; `tokens
/// list` shows names and roles and never a token; `tokens revoke` removes one, and revoking it
/// again fails; a taken name, an unknown role and a bad name are refused.
pub async fn tokens_create_list_revoke(binary: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(
        binary,
        dir.path(),
        &["tokens", "create", "--name", "ci", "--role", "clerk"],
        &[],
    )
    .await;
    assert_eq!(exit_code(&output), 0, "create: {}", text(&output));
    let token = stdout(&output);
    let token = token.trim_end();
    assert!(
        token.starts_with("orders_") && token.len() > 40 && !token.contains(char::is_whitespace),
        "standard output holds the token alone: {token:?}"
    );
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        report.contains("`ci` (clerk)") && !report.contains(token),
        "{report}"
    );
    let default_file = dir.path().join("data/tokens.json");
    let stored = std::fs::read_to_string(&default_file).expect("the default tokens file");
    assert!(
        stored.contains("\"ci\"") && !stored.contains(token),
        "{stored}"
    );

    let elsewhere = dir.path().join("elsewhere.json");
    let elsewhere_variable = (
        "ORDERS__AUTH__TOKENS_FILE",
        elsewhere.to_str().expect("UTF-8"),
    );
    let output = run(
        binary,
        dir.path(),
        &["tokens", "create", "--name", "ops", "--role", "admin"],
        &[elsewhere_variable],
    )
    .await;
    assert_eq!(exit_code(&output), 0, "create elsewhere: {}", text(&output));
    let ops_token = stdout(&output);
    assert!(
        elsewhere.exists(),
        "ORDERS__AUTH__TOKENS_FILE is where the token goes"
    );

    let output = run(binary, dir.path(), &["tokens", "list", "--json"], &[]).await;
    assert_eq!(exit_code(&output), 0, "list: {}", text(&output));
    let listed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("list --json prints JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        (&listed[0]["name"], &listed[0]["role"]),
        (&"ci".into(), &"clerk".into())
    );
    let output = run(binary, dir.path(), &["tokens", "list"], &[]).await;
    let table = text(&output);
    assert!(table.contains("ci") && table.contains("clerk"), "{table}");
    assert!(
        !table.contains(token) && !table.contains(ops_token.trim_end()),
        "{table}"
    );

    for (args, code) in [
        (
            &["tokens", "create", "--name", "ci", "--role", "viewer"][..],
            1,
        ),
        (&["tokens", "create", "--name", "x", "--role", "root"], 2),
        (
            &["tokens", "create", "--name", "a b", "--role", "viewer"],
            2,
        ),
        (&["tokens", "revoke", "nobody"], 1),
    ] {
        let output = run(binary, dir.path(), args, &[]).await;
        assert_eq!(exit_code(&output), code, "{args:?}: {}", text(&output));
    }

    let output = run(binary, dir.path(), &["tokens", "revoke", "ci"], &[]).await;
    assert_eq!(exit_code(&output), 0, "revoke: {}", text(&output));
    let output = run(binary, dir.path(), &["tokens", "list"], &[]).await;
    assert_eq!(stdout(&output), "no tokens\n");
    let output = run(binary, dir.path(), &["tokens", "revoke", "ci"], &[]).await;
    assert_eq!(exit_code(&output), 1, "revoked twice: {}", text(&output));
    assert!(
        text(&output).contains("no token is named `ci`"),
        "{}",
        text(&output)
    );
}

/// Each of [`BAD_TOKEN_FILES`] makes `tokens list`, `tokens create` and the service itself
/// fail with a message that names the file, and [`TOKEN_SECRET`] appears in no output; the file is left as it was.
pub async fn bad_token_files_are_refused(binary: &str) {
    for contents in BAD_TOKEN_FILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("tokens.json");
        std::fs::write(&file, contents).expect("write the tokens file");
        let variable = ("ORDERS__AUTH__TOKENS_FILE", file.to_str().expect("UTF-8"));
        for args in [
            &["tokens", "list"][..],
            &["tokens", "create", "--name", "ci2", "--role", "admin"],
            // The service itself refuses to start.
            &[],
        ] {
            let output = run(binary, dir.path(), args, &[variable]).await;
            let all = text(&output);
            assert_eq!(exit_code(&output), 1, "{args:?} over {contents:?}: {all}");
            assert!(
                all.contains("tokens.json is damaged"),
                "{args:?} over {contents:?}: the message names the file: {all}"
            );
            assert!(
                !all.contains(TOKEN_SECRET),
                "{args:?} over {contents:?}: the secret printed: {all}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            contents,
            "the file is left as it was"
        );
    }
}

/// `data check` passes on an empty data directory; after one record of the service's
/// `failure.json` is damaged it exits 1 naming the file and offset; `data repair` makes a
/// backup copy, drops that record alone and says so; then `data check` passes again.
pub async fn data_check_and_repair(binary: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(binary, dir.path(), &["data", "check"], &[]).await;
    assert_eq!(
        exit_code(&output),
        0,
        "an empty directory: {}",
        text(&output)
    );

    // The order service's own folder in `order-platform`; the data directory elsewhere.
    let service_dir = if binary.ends_with("order-platform") {
        dir.path().join("order")
    } else {
        dir.path().to_owned()
    };
    std::fs::create_dir_all(&service_dir).expect("the service's folder");
    let path = service_dir.join("failure.json");
    let log = FailureLog::open(&path).expect("a failure log");
    let kept = failure_record("kept");
    log.append(&kept).expect("appends");
    log.append(&failure_record("damaged")).expect("appends");
    drop(log);
    let mut bytes = std::fs::read(&path).expect("read");
    let damaged_at = bytes
        .windows(7)
        .position(|window| window == b"damaged")
        .expect("the second record");
    bytes[damaged_at] = b'D';
    std::fs::write(&path, &bytes).expect("damage");

    let output = run(binary, dir.path(), &["data", "check"], &[]).await;
    assert_eq!(exit_code(&output), 1, "a damaged record: {}", text(&output));
    let report = stdout(&output);
    assert!(
        report.contains("failure.json") && report.contains("byte "),
        "the check names the file and offset: {report}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "a check changes nothing"
    );

    let output = run(binary, dir.path(), &["data", "repair"], &[]).await;
    assert_eq!(exit_code(&output), 0, "the repair: {}", text(&output));
    let report = stdout(&output);
    assert!(
        report.contains("backup copy: ") && report.contains("dropped"),
        "the repair says where the copy is and what it dropped: {report}"
    );
    let output = run(binary, dir.path(), &["data", "check"], &[]).await;
    assert_eq!(exit_code(&output), 0, "after the repair: {}", text(&output));
    let records = FailureLog::open(&path)
        .expect("opens after the repair")
        .records()
        .expect("records");
    assert_eq!(records, vec![kept], "only the damaged record was dropped");
}

fn failure_record(reason: &str) -> FailureRecord {
    let now = chrono::Utc::now();
    FailureRecord {
        id: uuid::Uuid::now_v7().to_string(),
        service: "test".to_owned(),
        queue: "orders.test".to_owned(),
        event_id: None,
        order_id: None,
        reason: reason.to_owned(),
        attempts: 1,
        x_death: serde_json::Value::Null,
        first_failure_at: now,
        last_failure_at: now,
        recorded_at: now,
        payload: "{}".to_owned(),
        replays: Vec::new(),
        resolved_at: None,
    }
}

/// Runs `binary` with `args` and `env` on `data_dir` and loopback ports of its own choosing,
/// and fails the test if it is still running after [`REFUSAL_LIMIT`].
async fn run(binary: &str, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_remove("RUST_LOG")
        .current_dir(data_dir)
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__HTTP__ADDR", "127.0.0.1:0")
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if binary.ends_with("order-platform") {
        for service in ["INVENTORY", "BILLING", "NOTIFICATION"] {
            command.env(format!("ORDERS__PLATFORM__{service}_ADDR"), "127.0.0.1:0");
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("the binary starts");
    tokio::time::timeout(REFUSAL_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("{binary} {args:?} {env:?}: still running after {REFUSAL_LIMIT:?}")
        })
        .expect("its output")
}

fn exit_code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard output and standard error together, for messages.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
