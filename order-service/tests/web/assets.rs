//! `GET /ui/assets/app.js` and `app.css`: embedded, typed, cacheable.

use crate::helpers::{spawn_app, values_of};

#[tokio::test]
async fn assets_are_served_with_their_types_and_cached_by_fingerprint() {
    let app = spawn_app().await;
    let page = app.page("/ui/orders", 200).await;
    let script = values_of(&page, "src")
        .into_iter()
        .find(|src| src.starts_with("/ui/assets/app.js?v="))
        .expect("the page loads the script");
    let stylesheet = values_of(&page, "href")
        .into_iter()
        .find(|href| href.starts_with("/ui/assets/app.css?v="))
        .expect("the page loads the stylesheet");
    let cases = [
        (script, "text/javascript; charset=utf-8", "EventSource"),
        (stylesheet, "text/css; charset=utf-8", "@media"),
    ];
    for (path, content_type, text) in cases {
        let response = app.get(path).await;

        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        let cache = response.headers()["cache-control"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(cache.contains("immutable"), "{path}: {cache}");
        assert!(
            response.text().await.expect("body").contains(text),
            "{path}"
        );
    }
    // Without the fingerprint the content may change: a browser must check again.
    let plain = app.get("/ui/assets/app.js").await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    app.stop().await;
}

#[tokio::test]
async fn pages_allow_only_their_own_assets() {
    let app = spawn_app().await;

    let response = app.get("/ui/orders").await;

    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("text");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    app.stop().await;
}
