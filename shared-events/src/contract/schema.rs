//! The JSON Schemas of what crosses the wire, as the AsyncAPI document (`docs/asyncapi.yaml`)
//! gives them under `components.schemas`.
//!
//! They are derived with schemars from the contract's own types, as those serialise (serde's
//! renames and skipped fields included), so the document cannot say something the code does
//! not do: a test compares the document's schemas with [`components_schemas`]. [`Money`]'s
//! schema is written here by hand, as its serialisation is.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::contract::event::OrderEvent;
use crate::contract::money::Money;
use crate::contract::outcome::DeliveryOutcome;

/// Where the document keeps its schemas: what every generated `$ref` points into.
pub const SCHEMAS_PATH: &str = "/components/schemas";

/// The AsyncAPI document's `components.schemas`: the order event envelope with everything it
/// holds, and the outcome a consumer reports, each under its type's name.
///
/// The schemas describe what is serialised (the producer's side) in JSON Schema draft 7, the
/// dialect of AsyncAPI's default schema format.
pub fn components_schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft07()
        .with(|settings| {
            settings.definitions_path = SCHEMAS_PATH.into();
            settings.meta_schema = None;
        })
        .for_serialize()
        .into_generator();
    // Each call adds the type and every named type it holds to the generator's definitions.
    generator.subschema_for::<OrderEvent>();
    generator.subschema_for::<DeliveryOutcome>();
    generator.take_definitions(true)
}

impl JsonSchema for Money {
    fn schema_name() -> Cow<'static, str> {
        "Money".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "shared_events::contract::money::Money".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // JSON Schema sees a number's value, not its text: "exactly two decimals" can only be
        // said in words; `multipleOf` says "at most two".
        if generator.contract().is_serialize() {
            json_schema!({
                "description": concat!(
                    "An exact amount of money: a JSON number written with exactly two decimals ",
                    "(`12.50`, `0.30`, `7.00`), never rounded through a binary fraction."
                ),
                "type": "number",
                "multipleOf": 0.01,
            })
        } else {
            json_schema!({
                "description": concat!(
                    "An exact amount of money: a JSON number, or its decimal text (`\"12.50\"`), ",
                    "with at most two decimal places."
                ),
                "type": ["number", "string"],
                "multipleOf": 0.01,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    //! `docs/asyncapi.yaml` against the code. Its `components.schemas` is the last section of
    //! the file and is generated: `UPDATE_ASYNCAPI=1 cargo test -p shared-events --lib asyncapi`
    //! writes it anew from [`components_schemas`], leaving every line above it as it was.

    use std::path::PathBuf;

    use serde_json::{Map, Value};
    use serde_norway::{Mapping, Value as Yaml};

    use super::{SCHEMAS_PATH, components_schemas};

    /// The line that opens the generated section; everything after it is rewritten.
    const SCHEMAS_LINE: &str = "  schemas:";

    /// The order in which a schema's keywords are written; others follow alphabetically.
    const KEYWORDS: [&str; 17] = [
        "$ref",
        "title",
        "description",
        "type",
        "format",
        "const",
        "enum",
        "minimum",
        "maximum",
        "multipleOf",
        "allOf",
        "anyOf",
        "oneOf",
        "items",
        "properties",
        "required",
        "additionalProperties",
    ];

    #[test]
    fn the_asyncapi_document_has_the_schemas_the_code_serialises() {
        let path = document_path();
        let generated = components_schemas();
        if std::env::var("UPDATE_ASYNCAPI").is_ok_and(|value| value == "1") {
            let text = std::fs::read_to_string(&path).expect("docs/asyncapi.yaml is readable");
            let updated = with_schemas(&text, &generated);
            if updated != text {
                // Replaced whole, so that a test reading it meanwhile sees one or the other.
                let temporary = path.with_extension("yaml.new");
                std::fs::write(&temporary, updated).expect("docs/ is writable");
                std::fs::rename(&temporary, &path).expect("docs/asyncapi.yaml is replaced");
            }
        }

        let text = std::fs::read_to_string(&path).expect("docs/asyncapi.yaml is readable");
        let document: Value = serde_norway::from_str(&text).expect("docs/asyncapi.yaml is YAML");
        let written = document
            .pointer(SCHEMAS_PATH)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut names: Vec<&String> = written.keys().chain(generated.keys()).collect();
        names.sort();
        names.dedup();
        let differing: Vec<&String> = names
            .into_iter()
            .filter(|name| written.get(*name) != generated.get(*name))
            .collect();
        assert!(
            differing.is_empty(),
            "the schemas {differing:?} in docs/asyncapi.yaml are not what the code serialises; \
             regenerate them with `UPDATE_ASYNCAPI=1 cargo test -p shared-events --lib asyncapi` \
             and review the difference"
        );
    }

    #[test]
    fn regenerating_the_asyncapi_schemas_keeps_everything_written_by_hand() {
        // Arrange: the document with schemas that are not the code's.
        let text = std::fs::read_to_string(document_path()).expect("docs/asyncapi.yaml");
        let mut stale = components_schemas();
        stale.remove("Money");

        // Act
        let rewritten = with_schemas(&with_schemas(&text, &stale), &components_schemas());

        // Assert
        assert_eq!(without_schemas(&rewritten), without_schemas(&text));
        let document: Value = serde_norway::from_str(&rewritten).expect("YAML");
        assert_eq!(
            document.pointer(SCHEMAS_PATH).and_then(Value::as_object),
            Some(&components_schemas())
        );
    }

    fn document_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/asyncapi.yaml")
    }

    /// `text` with its generated section replaced by `schemas`. Panics unless that section is
    /// the last of the document, so that nothing written by hand is lost.
    fn with_schemas(text: &str, schemas: &Map<String, Value>) -> String {
        let start = text
            .find(&format!("\n{SCHEMAS_LINE}\n"))
            .map(|at| at + SCHEMAS_LINE.len() + 2)
            .expect("docs/asyncapi.yaml has a `  schemas:` line under `components:`");
        let generated = serde_norway::to_string(&Yaml::Mapping(definitions(schemas)))
            .expect("schemas are plain data");
        let mut rewritten = text[..start].to_owned();
        for line in generated.lines() {
            if !line.is_empty() {
                rewritten.push_str("    ");
            }
            rewritten.push_str(line);
            rewritten.push('\n');
        }
        let before: Value = serde_norway::from_str(text).expect("docs/asyncapi.yaml is YAML");
        let after: Value = serde_norway::from_str(&rewritten).expect("the rewritten document");
        assert_eq!(
            strip_schemas(before),
            strip_schemas(after),
            "`components.schemas` must be the last section of docs/asyncapi.yaml"
        );
        rewritten
    }

    /// The document parsed, without its schemas.
    fn without_schemas(text: &str) -> Value {
        strip_schemas(serde_norway::from_str(text).expect("YAML"))
    }

    fn strip_schemas(mut document: Value) -> Value {
        if let Some(components) = document
            .pointer_mut("/components")
            .and_then(Value::as_object_mut)
        {
            components.remove("schemas");
        }
        document
    }

    /// The schemas by name, in alphabetical order.
    fn definitions(schemas: &Map<String, Value>) -> Mapping {
        let mut names: Vec<&String> = schemas.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| (Yaml::from(name.as_str()), schema(&schemas[name])))
            .collect()
    }

    /// A schema with its keywords in a stable order ([`KEYWORDS`]) and its properties in the
    /// order of `required`, then the optional ones alphabetically: the same text whatever
    /// order serde_json's maps keep.
    fn schema(value: &Value) -> Yaml {
        let Value::Object(object) = value else {
            return plain(value);
        };
        let rank = |key: &str| KEYWORDS.iter().position(|known| *known == key);
        let mut keys: Vec<&String> = object.keys().collect();
        keys.sort_by_key(|key| (rank(key).unwrap_or(KEYWORDS.len()), key.as_str()));
        let mapping = keys.into_iter().map(|key| {
            let value = &object[key];
            let converted = match (key.as_str(), value) {
                ("properties", Value::Object(properties)) => {
                    Yaml::Mapping(properties_in_order(properties, object.get("required")))
                }
                ("items" | "additionalProperties" | "not", _) => schema(value),
                ("allOf" | "anyOf" | "oneOf", Value::Array(schemas)) => {
                    Yaml::Sequence(schemas.iter().map(schema).collect())
                }
                _ => plain(value),
            };
            (Yaml::from(key.as_str()), converted)
        });
        Yaml::Mapping(mapping.collect())
    }

    fn properties_in_order(properties: &Map<String, Value>, required: Option<&Value>) -> Mapping {
        let required: Vec<&str> = required
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort_by_key(|name| {
            let position = required.iter().position(|known| *known == name.as_str());
            (position.unwrap_or(required.len()), name.as_str())
        });
        names
            .into_iter()
            .map(|name| (Yaml::from(name.as_str()), schema(&properties[name])))
            .collect()
    }

    /// Any other JSON value as YAML; object keys in alphabetical order.
    fn plain(value: &Value) -> Yaml {
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            // Numbers by value: serde_json's arbitrary precision would otherwise serialise them
            // as a private one-entry map.
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(n), _, _) => Yaml::from(n),
                (None, Some(n), _) => Yaml::from(n),
                (None, None, Some(n)) => Yaml::from(n),
                (None, None, None) => panic!("{n} is not a number YAML can hold"),
            },
            Value::String(s) => Yaml::from(s.as_str()),
            Value::Array(items) => Yaml::Sequence(items.iter().map(plain).collect()),
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                Yaml::Mapping(
                    keys.into_iter()
                        .map(|key| (Yaml::from(key.as_str()), plain(&object[key])))
                        .collect(),
                )
            }
        }
    }
}
