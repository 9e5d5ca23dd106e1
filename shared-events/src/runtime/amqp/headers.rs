//! The message headers the runner and the failure drain read and write, and their conversion
//! to JSON for `failure.json`.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::Value;

/// Handler failures so far (set by the runner on retries and dead letters).
pub const ATTEMPTS: &str = "x-attempts";
/// The last handler error of a retried message.
pub const LAST_ERROR: &str = "x-last-error";
/// When the handler first failed on the message (RFC 3339).
pub const FIRST_FAILURE_AT: &str = "x-first-failure-at";
/// When the handler last failed on the message (RFC 3339), on dead letters.
pub const LAST_FAILURE_AT: &str = "x-last-failure-at";
/// Why the runner dead-lettered the message.
pub const FAILURE_REASON: &str = "x-failure-reason";
/// The queue the runner dead-lettered the message from.
pub const ORIGINAL_QUEUE: &str = "x-original-queue";
/// The id the failure record of a runner's dead letter gets, so a redelivered dead letter is
/// recorded once.
pub const FAILURE_ID: &str = "x-failure-id";
/// The broker's dead-lettering history: one table per (queue, reason), newest first.
pub const X_DEATH: &str = "x-death";
/// The delay tier a retried message goes to (milliseconds, as text): the retry exchange routes
/// by it. Not `x-...`: a headers exchange ignores such headers when matching.
pub const RETRY_DELAY_MS: &str = "retry-delay-ms";
/// Set by quorum queues on redelivery; meaningless on a copy, so copies drop it.
pub const DELIVERY_COUNT: &str = "x-delivery-count";

/// The value of header `key`, if present.
pub fn get<'a>(properties: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(key)
}

/// Header `key` as text (strings as they are, numbers written out).
pub fn text(properties: &BasicProperties, key: &str) -> Option<String> {
    match get(properties, key)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        other => integer(other).map(|n| n.to_string()),
    }
}

/// Header `key` as a count: integers of any width, or digits in a string; negative is absent.
pub fn count(properties: &BasicProperties, key: &str) -> Option<u32> {
    let value = get(properties, key)?;
    let n = match integer(value) {
        Some(n) => n,
        None => text(properties, key)?.trim().parse().ok()?,
    };
    u32::try_from(n).ok()
}

/// Header `key` as an RFC 3339 time.
pub fn time(properties: &BasicProperties, key: &str) -> Option<DateTime<Utc>> {
    let text = text(properties, key)?;
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// `time` as the header value [`time`] reads back.
pub(crate) fn time_value(time: DateTime<Utc>) -> AMQPValue {
    string(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A string header or argument value: a long string, since RabbitMQ resets the connection on
/// short strings in tables.
pub(crate) fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// A count header value.
pub(crate) fn count_value(n: u32) -> AMQPValue {
    AMQPValue::LongLongInt(i64::from(n))
}

/// `headers` with `changes` applied (a `None` value removes the key).
pub(crate) fn with(
    headers: Option<&FieldTable>,
    changes: Vec<(&str, Option<AMQPValue>)>,
) -> FieldTable {
    let mut map = headers
        .map(|table| table.inner().clone())
        .unwrap_or_default();
    for (key, value) in changes {
        match value {
            Some(value) => {
                map.insert(ShortString::from(key), value);
            }
            None => {
                map.remove(key);
            }
        }
    }
    FieldTable::from(map)
}

/// The broker's `x-death` history as a JSON array, or `null` when there is none.
pub fn x_death_json(properties: &BasicProperties) -> Value {
    match get(properties, X_DEATH) {
        Some(value @ AMQPValue::FieldArray(_)) => to_json(value),
        _ => Value::Null,
    }
}

/// One entry of the broker's `x-death` history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// The queue the message was dead-lettered from.
    pub queue: String,
    /// `rejected`, `expired`, `maxlen` or `delivery_limit`.
    pub reason: String,
    /// How often this (queue, reason) happened.
    pub count: u64,
    /// When it last happened (the broker's resolution is a second).
    pub time: Option<DateTime<Utc>>,
}

/// The broker's `x-death` history, newest first.
pub fn deaths(properties: &BasicProperties) -> Vec<Death> {
    let Some(AMQPValue::FieldArray(entries)) = get(properties, X_DEATH) else {
        return Vec::new();
    };
    entries
        .as_slice()
        .iter()
        .filter_map(AMQPValue::as_field_table)
        .map(|entry| {
            let field = |key: &str| entry.inner().get(key);
            let text = |key: &str| match field(key) {
                Some(AMQPValue::LongString(value)) => value.to_string(),
                Some(AMQPValue::ShortString(value)) => value.to_string(),
                _ => String::new(),
            };
            Death {
                queue: text("queue"),
                reason: text("reason"),
                count: field("count")
                    .and_then(integer)
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(1),
                time: match field("time") {
                    Some(AMQPValue::Timestamp(seconds)) => i64::try_from(*seconds)
                        .ok()
                        .and_then(|seconds| Utc.timestamp_opt(seconds, 0).single()),
                    _ => None,
                },
            }
        })
        .collect()
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        _ => None,
    }
}

/// Any AMQP value as JSON: tables become objects, arrays arrays, timestamps RFC 3339 strings,
/// byte strings text (lossy UTF-8).
pub fn to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number)
        }
        AMQPValue::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        AMQPValue::DecimalValue(d) => {
            let scaled = f64::from(d.value) / 10f64.powi(i32::from(d.scale));
            serde_json::Number::from_f64(scaled).map_or(Value::Null, Value::Number)
        }
        AMQPValue::ShortString(s) => Value::String(s.to_string()),
        AMQPValue::LongString(s) => Value::String(s.to_string()),
        AMQPValue::ByteArray(bytes) => {
            Value::String(String::from_utf8_lossy(bytes.as_slice()).into_owned())
        }
        AMQPValue::FieldArray(array) => {
            Value::Array(array.as_slice().iter().map(to_json).collect())
        }
        AMQPValue::FieldTable(table) => Value::Object(
            table
                .inner()
                .iter()
                .map(|(key, value)| (key.to_string(), to_json(value)))
                .collect(),
        ),
        AMQPValue::Timestamp(seconds) => i64::try_from(*seconds)
            .ok()
            .and_then(|seconds| Utc.timestamp_opt(seconds, 0).single())
            .map_or(Value::Null, |time| {
                Value::String(time.to_rfc3339_opts(SecondsFormat::Secs, true))
            }),
        AMQPValue::Void => Value::Null,
        other => integer(other).map_or(Value::Null, Value::from),
    }
}

#[cfg(test)]
mod tests {
    use lapin::types::FieldArray;

    use super::*;

    fn death(queue: &str, reason: &str, count: i64, time: u64) -> AMQPValue {
        let mut entry = FieldTable::default();
        entry.insert("queue".into(), string(queue));
        entry.insert("reason".into(), string(reason));
        entry.insert("count".into(), AMQPValue::LongLongInt(count));
        entry.insert("time".into(), AMQPValue::Timestamp(time));
        entry.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![string(queue)])),
        );
        AMQPValue::FieldTable(entry)
    }

    fn properties(headers: Vec<(&str, Option<AMQPValue>)>) -> BasicProperties {
        BasicProperties::default().with_headers(with(None, headers))
    }

    #[test]
    fn counts_read_any_integer_width_or_digits() {
        let cases = [
            (AMQPValue::LongInt(3), Some(3)),
            (AMQPValue::LongLongInt(4), Some(4)),
            (AMQPValue::ShortShortUInt(5), Some(5)),
            (string(" 6 "), Some(6)),
            (AMQPValue::LongLongInt(-1), None),
            (string("many"), None),
            (AMQPValue::Boolean(true), None),
        ];
        for (value, expected) in cases {
            let props = properties(vec![(ATTEMPTS, Some(value.clone()))]);
            assert_eq!(count(&props, ATTEMPTS), expected, "{value:?}");
        }
        assert_eq!(
            count(&BasicProperties::default(), ATTEMPTS),
            None,
            "no headers"
        );
    }

    #[test]
    fn times_round_trip() {
        let now = Utc::now();
        let props = properties(vec![(FIRST_FAILURE_AT, Some(time_value(now)))]);
        let read = time(&props, FIRST_FAILURE_AT).expect("a time");
        assert!((read - now).num_milliseconds().abs() <= 1);
    }

    #[test]
    fn x_death_becomes_json_and_deaths() {
        let history = AMQPValue::FieldArray(FieldArray::from(vec![
            death("ns.billing", "delivery_limit", 1, 1_700_000_100),
            death("ns.billing.retry.100ms", "expired", 3, 1_700_000_000),
        ]));
        let props = properties(vec![(X_DEATH, Some(history))]);
        let json = x_death_json(&props);
        assert_eq!(json[0]["reason"], "delivery_limit");
        assert_eq!(json[1]["count"], 3);
        assert_eq!(json[1]["time"], "2023-11-14T22:13:20Z");
        assert_eq!(json[1]["routing-keys"][0], "ns.billing.retry.100ms");
        let deaths = deaths(&props);
        assert_eq!(deaths.len(), 2);
        assert_eq!(deaths[0].reason, "delivery_limit");
        assert_eq!(deaths[1].count, 3);
        assert_eq!(x_death_json(&BasicProperties::default()), Value::Null);
    }

    #[test]
    fn with_adds_replaces_and_removes() {
        let original = with(
            None,
            vec![
                ("a", Some(string("1"))),
                (DELIVERY_COUNT, Some(AMQPValue::LongLongInt(2))),
            ],
        );
        let changed = with(
            Some(&original),
            vec![("a", Some(string("2"))), (DELIVERY_COUNT, None)],
        );
        assert_eq!(changed.inner().get("a"), Some(&string("2")));
        assert!(!changed.contains_key(DELIVERY_COUNT));
    }
}
