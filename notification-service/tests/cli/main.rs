//! The `notification-service` command line: version, help, usage errors, unknown configuration keys and
//! malformed broker and mail server URLs.

test_support::command_line_tests!("notification-service");

#[tokio::test]
async fn a_refused_mail_server_url_stops_it_without_printing_the_password() {
    test_support::command_line::refused_smtp_urls_do_not_print_the_password(BINARY).await;
}
