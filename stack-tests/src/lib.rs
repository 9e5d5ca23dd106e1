//! Tests of the platform as its users run it: the images built by `scripts/docker-images`, the
//! compose stack of `docker-compose.yml` (each test a compose project of its own), and the
//! Kubernetes manifests of `deploy/k8s`.

pub mod compose;
pub mod effects;
pub mod load;

use std::path::PathBuf;

/// The repository's root, where `docker-compose.yml` is.
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the repository")
        .to_path_buf()
}
