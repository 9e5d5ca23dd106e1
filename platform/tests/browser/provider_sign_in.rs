//! In real Chromium: a person signs in through the company's identity provider, served from
//! another site (`localhost` against the platform's `127.0.0.1`), so that the way back is a
//! cross-site navigation, on which the `SameSite=Strict` session cookie is not sent; the person
//! still lands on the list, signed in, and the orders they make carry their name.

use shared_events::app::auth::Role;
use test_support::identity_provider::IdentityProvider;

use crate::browser::{Browser, DESKTOP};
use crate::helpers::TestPlatform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_the_identity_provider_of_another_site() {
    // Arrange: the provider on `localhost`, the platform on `127.0.0.1`: two sites.
    let provider = IdentityProvider::new();
    let mut oidc = provider.serve_sign_in("grace", Role::Clerk).await;
    oidc.authorization_url = oidc
        .authorization_url
        .map(|url| url.replace("127.0.0.1", "localhost"));
    let keys = tempfile::tempdir().expect("a temporary directory");
    let jwt = provider.settings(&keys.path().join("jwks.json"));
    let platform = TestPlatform::start_with(|settings| {
        let auth = &mut settings.order.auth;
        auth.jwt = jwt;
        auth.oidc = oidc;
    })
    .await;
    let browser = Browser::launch(&platform.url, DESKTOP).await;

    browser
        .run("provider-sign-in", async |browser| {
            // Act: the list asks for a sign-in; the person picks the company account.
            browser.goto("/ui/orders").await;
            browser
                .wait_for_path("the sign-in form", |path| path == "/ui/sign-in")
                .await;
            browser.click("#sign-in-provider").await;
            browser.click("#approve").await;

            // Assert: back from the provider, on the list, signed in as the provider says.
            browser
                .wait_for_path("the list after the provider", |path| path == "/ui/orders")
                .await;
            browser.screenshot("provider-sign-in-01-list").await;
            browser.goto("/ui/sign-out").await;
            let who = browser.text("#signed-in-as").await;
            assert_eq!(who, "grace", "signed in as the provider's user");
        })
        .await;
    platform.stop().await;
}
