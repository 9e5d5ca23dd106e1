//! The README's Python example: a client generated from the served OpenAPI document by
//! openapi-python-client (installed by `scripts/ensure-api-tools`) creates, changes, reads and
//! lists orders, and reads a refusal as the documented error.

use std::process::Output;

use tokio::process::Command;

use crate::helpers::spawn_app;

/// The example the README points to.
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/examples/python_client.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_python_client_runs_the_readmes_example() {
    // Arrange: the client, generated from what the service serves.
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let document = app
        .get("/openapi.json")
        .await
        .text()
        .await
        .expect("the document");
    let path = dir.path().join("order.json");
    std::fs::write(&path, document).expect("writes the document");
    let generated = run(Command::new("openapi-python-client")
        .args(["generate", "--meta", "none", "--path"])
        .arg(&path)
        .arg("--output-path")
        .arg(dir.path().join("order_client")))
    .await;
    assert_success("openapi-python-client generate", &generated);

    // Act
    let example = run(Command::new("python3")
        .arg(EXAMPLE)
        .arg(&app.address)
        .env("PYTHONPATH", dir.path()))
    .await;

    // Assert
    assert_success("the example", &example);
    let printed = String::from_utf8_lossy(&example.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(
        lines[0].ends_with(" confirmed 19.98 version 2"),
        "{printed}"
    );
    assert!(lines[1].starts_with("refused: items: "), "{printed}");
    assert_eq!(lines[2], "1 order(s) listed", "{printed}");
    let id = lines[0].split(' ').next().expect("an id");
    assert_eq!(
        app.get(&format!("/orders/{id}")).await.status().as_u16(),
        200
    );
}

async fn run(command: &mut Command) -> Output {
    command.output().await.unwrap_or_else(|error| {
        panic!("{command:?} does not run ({error}): run scripts/ensure-api-tools")
    })
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
