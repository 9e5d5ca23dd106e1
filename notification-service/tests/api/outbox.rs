//! Without a mail server, each email is written to `<data_dir>/outbox/<event id>.eml`.

use crate::helpers::{created, new_order, spawn_app};

#[tokio::test]
async fn without_an_smtp_url_the_email_is_written_to_the_outbox() {
    // Arrange
    let app = spawn_app(None).await;
    let order = new_order(Some("ada@example.com"));
    let event = created(&order);

    // Act
    app.publish(&event).await;
    let counts = app.wait_until_handled(1).await;

    // Assert
    assert_eq!(counts.sent, 1, "{counts:?}");
    let path = app
        .data_path()
        .join("outbox")
        .join(format!("{}.eml", event.id));
    let email = std::fs::read_to_string(&path).expect("the .eml file");
    for expected in [
        "From: Orders <orders@localhost>\r\n".to_owned(),
        "To: \"Ada Lovelace\" <ada@example.com>\r\n".to_owned(),
        format!("Subject: Order {} received\r\n", order.order_id),
        format!("Message-ID: <{}@localhost>\r\n", event.id),
        "Content-Type: text/plain; charset=utf-8\r\n".to_owned(),
        "\r\n\r\nHello Ada Lovelace,\r\n".to_owned(),
        "Total:   20.08\r\n".to_owned(),
    ] {
        assert!(email.contains(&expected), "{expected:?} in\n{email}");
    }
    assert!(email.contains("Date: "), "{email}");
    let leftovers: Vec<_> = std::fs::read_dir(app.data_path().join("outbox"))
        .expect("outbox")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the email, no temporary file: {leftovers:?}"
    );
    app.finish().await;
}
