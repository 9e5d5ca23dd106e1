//! The service binaries of the whole workspace, for a test that starts every service as a
//! process of its own. Cargo tells a test only where its own package's binaries are
//! (`CARGO_BIN_EXE_<name>`), so the others are built here, with `cargo build` (a moment when
//! they are fresh), into the same target directory and profile as the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The packages, and binaries, of the four services.
pub const SERVICES: [&str; 4] = [
    "order-service",
    "inventory-service",
    "billing-service",
    "notification-service",
];

/// The folder of the four services' binaries, once they are built. `beside` is a binary of the
/// test's own package (`env!("CARGO_BIN_EXE_...")`): they go in its folder. Blocks while
/// cargo builds; a failed build fails the test.
pub fn services(beside: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build(Path::new(beside))).clone()
}

fn build(beside: &Path) -> PathBuf {
    let bin_dir = beside
        .parent()
        .expect("a binary's path has a folder")
        .to_path_buf();
    let target_dir = bin_dir.parent().expect("the profile's folder has a parent");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits in the workspace");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null());
    for package in SERVICES {
        command.args(["-p", package, "--bin", package]);
    }
    if bin_dir.file_name().is_some_and(|name| name == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "cargo build of the services failed: {status}"
    );
    bin_dir
}
