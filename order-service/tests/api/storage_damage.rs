//! A damaged order store: the service refuses to start, naming the file and the byte offset;
//! `check` reports the same place without changing anything; `repair` drops exactly the
//! damaged part of the journal, says which records it dropped, and the service starts again.

use std::fs;

use order_service::store::{check, repair};

use crate::helpers::{newest_journal, order_body, spawn_app, spawn_app_in};

#[tokio::test]
async fn a_damaged_store_is_refused_then_checked_repaired_and_served_again() {
    // Arrange: four orders; the third one's record damaged in the middle of the journal.
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for name in ["First", "Second", "Third", "Fourth"] {
        let order = app.create_order(&order_body(name)).await;
        ids.push(order["order_id"].as_str().expect("id").to_owned());
    }
    assert_eq!(
        check(app.data_dir.path()),
        Vec::new(),
        "a sound store, even while it runs"
    );
    let dir = app.stop().await;
    let journal = newest_journal(dir.path());
    let name = journal
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut bytes = fs::read(&journal).expect("journal");
    let at_name = find(&bytes, b"\"customer_name\":\"Third\"").expect("the third order") + 18;
    let third = bytes[..at_name]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |newline| newline + 1);
    bytes[at_name] ^= 0x02;
    fs::write(&journal, &bytes).expect("damaged");

    // Act & Assert: the service refuses, naming the place.
    let settings = order_service::settings::Settings::for_tests(dir.path());
    let refused = order_service::startup::Application::build(settings).await;
    let error = format!("{:#}", refused.err().expect("a damaged store is refused"));
    assert!(
        error.contains(&format!("{name} at byte {third}:")),
        "{error}"
    );

    // The check finds the same place and changes nothing.
    let problems = check(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, journal);
    assert_eq!(problems[0].offset, Some(third as u64));
    assert_eq!(
        fs::read(&journal).expect("journal"),
        bytes,
        "a check changes nothing"
    );

    // The repair drops the damaged record alone, keeps the one after it, and says so.
    let dropped = repair(dir.path()).expect("repairs");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let what = &dropped[0].what;
    assert!(
        what.contains(&format!(" bytes from byte {third}:")),
        "{what}"
    );
    assert!(
        what.contains(&format!("(order.created of order {}", ids[2])),
        "{what}"
    );
    assert!(!what.contains(&ids[3].to_string()), "{what}");
    assert!(what.contains("every record after them is kept"), "{what}");
    assert_eq!(check(dir.path()), Vec::new(), "clean after the repair");

    // The service starts with what was intact, and takes writes.
    let app = spawn_app_in(dir, |_| {}).await;
    for (id, status) in ids.iter().zip([200, 200, 404, 200]) {
        assert_eq!(
            app.get_order(id).await.status().as_u16(),
            status,
            "order {id}"
        );
    }
    app.create_order(&order_body("Fifth")).await;
    let app = app.restart().await;
    assert_eq!(app.list_all_orders(10).await.len(), 4);
}

#[tokio::test]
async fn repair_refuses_while_the_service_runs() {
    let app = spawn_app().await;
    app.create_order(&order_body("Running")).await;
    let error = repair(app.data_dir.path()).expect_err("the service holds the directory");
    assert!(format!("{error:#}").contains("in use"), "{error:#}");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
