//! The `billing-service` command line: version, help, usage errors, unknown configuration keys and
//! malformed broker URLs.

test_support::command_line_tests!("billing-service");
