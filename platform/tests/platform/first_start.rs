//! The README's run command on a fresh folder: the first start makes the tokens file with an
//! administrator's token and prints a sign-in link, once; the platform is closed to everyone
//! without it from the start, and the link's token opens the API and the page.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use test_support::process::{spawn_listening, stop_with_signal};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const STOP: Duration = Duration::from_secs(20);

fn platform(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_order-platform"));
    command
        .env_remove("ORDERS__AMQP__URL")
        .env_remove("ORDERS__TRANSPORT")
        .env_remove("ORDERS__AUTH__FIRST_TOKEN")
        .env_remove("ORDERS__AUTH__TOKENS_FILE")
        // The README's command, run from a fresh folder: every file where it would be.
        .current_dir(data_dir)
        .env_remove("ORDERS__DATA_DIR")
        .env("ORDERS__PLATFORM__INVENTORY_ADDR", "127.0.0.1:0")
        .env("ORDERS__PLATFORM__BILLING_ADDR", "127.0.0.1:0")
        .env("ORDERS__PLATFORM__NOTIFICATION_ADDR", "127.0.0.1:0")
        .stderr(Stdio::piped());
    command
}

/// Everything `child` wrote to standard error until it stopped.
async fn stop_and_read_stderr(mut child: Child) -> String {
    let stderr = child.stderr.take().expect("stderr");
    let status = stop_with_signal(&mut child, "TERM", STOP).await;
    assert!(status.success(), "{status}");
    let mut lines = BufReader::new(stderr).lines();
    let mut text = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_makes_an_admin_token_and_prints_its_sign_in_link_once() {
    // Arrange
    let folder = tempfile::tempdir().expect("a temporary directory");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");

    // Act: the first start.
    let (child, url) = spawn_listening(platform(folder.path())).await;
    let unauthenticated = client
        .get(format!("{url}/orders"))
        .send()
        .await
        .expect("send");
    let page = client
        .get(format!("{url}/ui/orders"))
        .send()
        .await
        .expect("send");
    let stderr = stop_and_read_stderr(child).await;

    // Assert: closed from the start, and the link carries an admin token.
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(page.status(), 303, "the page leads to its sign-in form");
    let link = stderr
        .split_whitespace()
        .find(|word| word.contains("/ui/sign-in#token="))
        .unwrap_or_else(|| panic!("no sign-in link in: {stderr}"));
    assert!(
        link.starts_with(&format!("{url}/ui/sign-in#token=orders_")),
        "{link}"
    );
    let token = link.split("#token=").nth(1).expect("a token").to_owned();
    let tokens_file = folder.path().join("data/tokens.json");
    let kept = std::fs::read_to_string(&tokens_file).expect("the tokens file was made");
    assert!(
        kept.contains(r#""role": "admin""#) || kept.contains(r#""role":"admin""#),
        "{kept}"
    );
    assert!(!kept.contains(&token), "the file keeps only a hash");

    // Act: the second start.
    let (child, url) = spawn_listening(platform(folder.path())).await;
    let with_token = client
        .get(format!("{url}/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let signed_in = client
        .post(format!("{url}/ui/sign-in"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("send");
    let stderr = stop_and_read_stderr(child).await;

    // Assert: the token opens the API and the page; nothing is printed again.
    assert_eq!(with_token.status(), 200);
    assert_eq!(signed_in.status(), 303);
    assert!(signed_in.headers().get("set-cookie").is_some(), "a session");
    assert!(!stderr.contains("#token="), "printed once only: {stderr}");
    assert!(!stderr.contains(&token), "{stderr}");
}
