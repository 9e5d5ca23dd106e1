//! Every Kubernetes manifest of `deploy/k8s` renders (kustomize) and validates offline, core
//! resources against Kubernetes' schemas and custom resources against ours.

#[test]
fn every_manifest_renders_and_validates() {
    let repository = stack_tests::repository();
    let output = std::process::Command::new(repository.join("scripts/validate-manifests"))
        .current_dir(&repository)
        .output()
        .expect("scripts/validate-manifests runs");
    assert!(
        output.status.success(),
        "scripts/validate-manifests failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
