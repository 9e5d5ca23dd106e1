//! Checked conversions into AMQP's length-limited strings.

use lapin::types::ShortString;

use crate::runtime::amqp::error::AmqpError;

/// `name` as a `ShortString`, or an error instead of lapin's panic when it exceeds 255 bytes.
pub(crate) fn short(name: &str) -> Result<ShortString, AmqpError> {
    ShortString::try_new(name).map_err(|_| AmqpError::InvalidName(name.to_owned()))
}
