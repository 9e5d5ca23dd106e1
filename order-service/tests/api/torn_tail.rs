//! A journal cut anywhere inside its last record: the service starts, keeps every whole record,
//! and accepts writes. A record that is whole but damaged is not a torn tail: the service
//! refuses to start, names the file and the byte offset, and changes nothing.

use std::fs;

use serde_json::Value;

use crate::helpers::{newest_journal, order_body, spawn_app, spawn_app_in};

#[tokio::test]
async fn a_torn_last_record_is_cut_back_at_every_offset() {
    // Arrange: three orders, the journal as the crash found it.
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for name in ["First", "Second", "Third"] {
        ids.push(
            app.create_order(&order_body(name)).await["order_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let dir = app.stop().await;
    let journal = newest_journal(dir.path());
    let bytes = fs::read(&journal).expect("journal");
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("three lines")
        + 1;
    let record_len = bytes.len() - last_start;
    // Every offset near both ends of the record, and every 9th byte in between.
    let offsets: Vec<usize> = (0..record_len)
        .filter(|offset| *offset < 24 || *offset + 24 >= record_len || offset % 9 == 0)
        .map(|offset| last_start + offset)
        .collect();

    for cut in offsets {
        // Act
        let case = tempfile::tempdir().expect("temp dir");
        fs::write(
            case.path().join(journal.file_name().expect("name")),
            &bytes[..cut],
        )
        .expect("torn copy");
        let app = spawn_app_in(case, |_| {}).await;

        // Assert: the two whole records are there, the torn one is not (unless only its
        // newline was cut: the record is whole and its checksum matches), and writes go on.
        let last_is_whole = cut == bytes.len() - 1;
        for id in &ids[..2] {
            assert_eq!(
                app.get_order(id).await.status().as_u16(),
                200,
                "cut at {cut}: whole record {id} lost"
            );
        }
        assert_eq!(
            app.get_order(&ids[2]).await.status().as_u16(),
            if last_is_whole { 200 } else { 404 },
            "cut at {cut}: torn record applied, or whole record lost"
        );
        let later: Value = app.create_order(&order_body("Later")).await;
        let app = app.restart().await;
        let later_id = later["order_id"].as_str().expect("id");
        assert_eq!(
            app.get_order(later_id).await.status().as_u16(),
            200,
            "cut at {cut}: write after repair lost"
        );
        let stored = if last_is_whole { 4 } else { 3 };
        assert_eq!(app.list_all_orders(10).await.len(), stored, "cut at {cut}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_damaged_whole_record_stops_the_service_and_changes_nothing() {
    // Arrange: one byte of the last record changed; the record still ends with its newline.
    let app = spawn_app().await;
    for name in ["First", "Second"] {
        app.create_order(&order_body(name)).await;
    }
    let dir = app.stop().await;
    let journal = newest_journal(dir.path());
    let mut bytes = fs::read(&journal).expect("journal");
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("two lines")
        + 1;
    bytes[last_start + 20] ^= 0x01;
    fs::write(&journal, &bytes).expect("damage");

    // Act
    let settings = order_service::settings::Settings::for_tests(dir.path());
    let result = order_service::startup::Application::build(settings).await;

    // Assert
    let error = format!("{:#}", result.err().expect("a damaged record is refused"));
    let name = journal.file_name().expect("name").to_string_lossy();
    assert!(
        error.contains(&format!("{name} at byte {last_start}:")),
        "{error}"
    );
    assert_eq!(
        fs::read(&journal).expect("journal"),
        bytes,
        "nothing was cut"
    );
}

#[tokio::test]
async fn damage_before_whole_records_stops_the_service_and_changes_nothing() {
    // Arrange: damage in the middle of the journal is not a torn tail.
    let app = spawn_app().await;
    for name in ["First", "Second", "Third"] {
        app.create_order(&order_body(name)).await;
    }
    let dir = app.stop().await;
    let journal = newest_journal(dir.path());
    let mut bytes = fs::read(&journal).expect("journal");
    let first_end = bytes.iter().position(|b| *b == b'\n').expect("line");
    bytes[first_end + 5] = b'#';
    fs::write(&journal, &bytes).expect("damage");

    // Act
    let settings = order_service::settings::Settings::for_tests(dir.path());
    let result = order_service::startup::Application::build(settings).await;

    // Assert
    let error = format!("{:#}", result.err().expect("a damaged journal is refused"));
    let name = journal.file_name().expect("name").to_string_lossy();
    assert!(error.contains("damaged"), "{error}");
    assert!(
        error.contains(&format!("{name} at byte {}:", first_end + 1)),
        "names the file and the damaged record's offset: {error}"
    );
    assert_eq!(
        fs::read(&journal).expect("journal"),
        bytes,
        "nothing was cut"
    );
}
