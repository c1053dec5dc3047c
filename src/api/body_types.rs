//! JSON request bodies hold what the OpenAPI document says they hold, or are refused naming
//! the field.
//!
//! Every JSON body is checked against its operation's schema before the operation reads it:
//! - a key twice in one object is refused (`400 invalid_body`, field code `duplicate_field`)
//!   rather than letting the last one win, as serde would: two readers of one body (a proxy, a
//!   log, this service) must not see two different requests;
//! - a value of another type than the document gives its field, or a value outside its enum, is
//!   refused (`400 invalid_body`, field code `wrong_type`): poem-openapi would read a JSON
//!   number or boolean into a `String` field (`{"name": false}` becomes the name "false");
//! - a field the operation does not take (a misspelt `dispaly_name` would otherwise change
//!   nothing and answer 200), and a required field that is missing or null, are refused
//!   together (`422 validation_failed`, field codes `unknown_field` and `required`), at every
//!   depth, unless the schema allows more properties (`additionalProperties`).
//!
//! Other `null`s are left to the operation, which reads them as "clear this field" or refuses
//! them; constraints beyond the type (lengths, formats) stay with the operation, which reports
//! them per field. Field paths use dots and indexes: `place.city`, `tags[1]`.

use super::problem::FieldCode;
use super::spec_index::SpecIndex;
use crate::service::FieldError;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

/// What is wrong with a JSON body, by the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    /// A key appears twice in one object; the path of the second.
    DuplicateField(String),
    /// A value of another type than the document gives its field (the path, empty for the
    /// body itself), and what it must be.
    WrongType {
        /// Where.
        field: String,
        /// What the document wants there, in English ("a string", "one of: a, b").
        expected: String,
    },
    /// Unknown fields and missing required ones, in the order met.
    Fields(Vec<FieldError>),
    /// The operation needs a body (a JSON object) and got none, or `null`.
    Missing,
    /// The operation takes no body and got one (other than `{}` or `null`).
    Unwanted,
    /// The body, sent as JSON, is not JSON: where the parser stopped (1-based).
    NotJson {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
}

/// The request body schema of each operation that takes JSON, read from the OpenAPI document.
#[derive(Debug, Clone, Default)]
pub struct BodySchemas(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// The JSON body schema of each operation, and whether it needs a body; `null` for an
    /// operation that takes none.
    operations: SpecIndex<(Value, bool)>,
    /// `components.schemas`, for `$ref`.
    schemas: Value,
}

impl BodySchemas {
    /// Reads the body schemas from the OpenAPI document.
    pub fn from_spec(spec: &Value) -> Self {
        let operations = SpecIndex::from_spec(spec, |_, operation| {
            let body = &operation["requestBody"];
            let Some(content) = body["content"].as_object() else {
                return Some((Value::Null, false));
            };
            let (_, media) = content
                .iter()
                .find(|(media_type, _)| media_type.starts_with("application/json"))?;
            Some((media["schema"].clone(), body["required"] == true))
        });
        Self(Arc::new(Inner {
            operations,
            schemas: spec["components"]["schemas"].clone(),
        }))
    }

    /// Checks a body sent to `method path`, `json` when its content type says JSON. An
    /// operation that takes no body takes an empty one, `null` or `{}`, whatever the content
    /// type; one that needs a body refuses an empty one or `null`. A body of another content
    /// type, for an operation that takes one, and paths the document does not have, are left to
    /// poem (415).
    pub fn check(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        json: bool,
    ) -> Result<(), BodyProblem> {
        let Some((schema, required)) = self.0.operations.operation(method, path) else {
            return Ok(());
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return if *required {
                Err(BodyProblem::Missing)
            } else {
                Ok(())
            };
        }
        let parsed = serde_json::from_slice::<Value>(body);
        if schema.is_null() {
            return match parsed {
                Ok(value) if is_no_body(&value) => Ok(()),
                _ => Err(BodyProblem::Unwanted),
            };
        }
        if !json {
            return Ok(());
        }
        let value = parsed.map_err(|error| BodyProblem::NotJson {
            line: error.line(),
            column: error.column(),
        })?;
        if value.is_null() {
            return Err(BodyProblem::Missing);
        }
        if let Some(field) = duplicate_key(body) {
            return Err(BodyProblem::DuplicateField(field));
        }
        if let Some((field, expected)) = self.mismatch(schema, &value, "") {
            return Err(BodyProblem::WrongType { field, expected });
        }
        let mut fields = Vec::new();
        self.unknown_and_missing(schema, &value, "", &mut fields);
        if fields.is_empty() {
            Ok(())
        } else {
            Err(BodyProblem::Fields(fields))
        }
    }

    /// `schema` with `$ref`s followed.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                self.resolve(&self.0.schemas[name])
            }
            None => schema,
        }
    }

    /// The object shape `schema` gives, merged over `allOf`: its properties, its required
    /// properties, and whether (and as what) it takes others.
    fn shape<'a>(&'a self, schema: &'a Value, shape: &mut Shape<'a>) {
        let schema = self.resolve(schema);
        if let Some(properties) = schema["properties"].as_object() {
            shape.properties.extend(properties.iter());
            shape.constrained = true;
        }
        if let Some(required) = schema["required"].as_array() {
            shape
                .required
                .extend(required.iter().filter_map(Value::as_str));
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => shape.constrained = true,
            Some(Value::Bool(true)) => shape.more = Some(&Value::Null),
            Some(more) => shape.more = Some(more),
            None => {}
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.shape(part, shape);
        }
    }

    /// Adds to `out` each field of `value` that `schema` does not know, and each required one
    /// that `value` lacks or holds as null, at every depth.
    fn unknown_and_missing(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        out: &mut Vec<FieldError>,
    ) {
        match value {
            Value::Object(fields) => {
                let mut shape = Shape::default();
                self.shape(schema, &mut shape);
                for (name, field) in fields {
                    let path = join(at, name);
                    match shape.properties.iter().find(|(known, _)| *known == name) {
                        Some((_, property)) => {
                            self.unknown_and_missing(property, field, &path, out);
                        }
                        None => match shape.more {
                            Some(more) => self.unknown_and_missing(more, field, &path, out),
                            None if shape.constrained => out.push(FieldError {
                                message: format!("`{path}` is not a field of this request"),
                                field: path,
                                code: FieldCode::UnknownField.as_str(),
                            }),
                            None => {}
                        },
                    }
                }
                for name in shape.required {
                    if fields.get(name).is_none_or(Value::is_null) {
                        let path = join(at, name);
                        out.push(FieldError {
                            message: format!("`{path}` is required"),
                            field: path,
                            code: crate::domain::values::Refusal::Required.as_str(),
                        });
                    }
                }
            }
            Value::Array(items) => {
                let items_schema = &self.resolve(schema)["items"];
                for (index, item) in items.iter().enumerate() {
                    self.unknown_and_missing(items_schema, item, &format!("{at}[{index}]"), out);
                }
            }
            _ => {}
        }
    }

    /// The first place where `value` is not of the type `schema` gives: its field path and
    /// the type wanted. (`oneOf` and `anyOf`, which the document does not use, pass unchecked.)
    fn mismatch(&self, schema: &Value, value: &Value, at: &str) -> Option<(String, String)> {
        if value.is_null() {
            return None;
        }
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            return self.mismatch(&self.0.schemas[name], value, at);
        }
        if let Some(all) = schema["allOf"].as_array() {
            if let Some(found) = all.iter().find_map(|part| self.mismatch(part, value, at)) {
                return Some(found);
            }
        }
        let (fits, expected) = match schema["type"].as_str() {
            Some("string") => (value.is_string(), "a string"),
            Some("boolean") => (value.is_boolean(), "true or false"),
            Some("integer") => (value.is_i64() || value.is_u64(), "an integer"),
            Some("number") => (value.is_number(), "a number"),
            Some("array") => (value.is_array(), "an array"),
            Some("object") => (value.is_object(), "an object"),
            _ => (true, ""),
        };
        if !fits {
            return Some((at.to_owned(), expected.to_owned()));
        }
        if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
            let (fits, expected) = match format {
                "date" => (is_full_date(text), "a date (YYYY-MM-DD)"),
                "date-time" => (
                    chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                    "a date and time (RFC 3339)",
                ),
                "uuid" => (uuid::Uuid::parse_str(text).is_ok(), "a UUID"),
                _ => (true, ""),
            };
            if !fits {
                return Some((at.to_owned(), expected.to_owned()));
            }
        }
        if let (Some(most), Some(text)) = (schema["maxLength"].as_u64(), value.as_str()) {
            if text.chars().count() as u64 > most {
                return Some((at.to_owned(), format!("text of at most {most} characters")));
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|choice| {
                        choice
                            .as_str()
                            .map_or_else(|| choice.to_string(), str::to_owned)
                    })
                    .collect();
                return Some((at.to_owned(), format!("one of: {}", names.join(", "))));
            }
        }
        match value {
            Value::Object(fields) => fields.iter().find_map(|(name, field)| {
                let property = schema["properties"]
                    .get(name)
                    .or_else(|| schema.get("additionalProperties"))?;
                let required = schema["required"]
                    .as_array()
                    .is_some_and(|required| required.iter().any(|r| r == name.as_str()));
                // A required null is named as missing (`required`); an optional field the
                // document does not mark `nullable` is left out, not null. A field of a free
                // object (`additionalProperties: {}`, a WebAuthn structure) may be anything.
                let free = *property == Value::Bool(true)
                    || property.as_object().is_some_and(serde_json::Map::is_empty);
                if field.is_null() && !required && !free && property["nullable"] != true {
                    return Some((
                        join(at, name),
                        "a value, not null (leave it out)".to_owned(),
                    ));
                }
                self.mismatch(property, field, &join(at, name))
            }),
            Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
                self.mismatch(&schema["items"], item, &format!("{at}[{index}]"))
            }),
            _ => None,
        }
    }
}

/// True for the JSON bodies that say nothing, and pass where no body is taken: `null` and `{}`.
pub fn is_no_body(value: &Value) -> bool {
    value.is_null() || value.as_object().is_some_and(serde_json::Map::is_empty)
}

/// Marks every object schema a request body holds (at any depth, through `$ref`, `allOf` and
/// `items`) that names its properties and says nothing of others with
/// `additionalProperties: false`: the document then says what [`BodySchemas::check`] does,
/// so that generated clients and fuzzers know an unknown field is refused.
pub fn declare_closed_bodies(spec: &mut Value) {
    let mut names = HashSet::new();
    let mut pending: Vec<Value> = Vec::new();
    if let Some(paths) = spec["paths"].as_object() {
        for operations in paths.values().filter_map(Value::as_object) {
            for operation in operations.values() {
                if let Some(content) = operation["requestBody"]["content"].as_object() {
                    pending.extend(content.values().map(|media| media["schema"].clone()));
                }
            }
        }
    }
    // Inline schemas of the operations are closed in place below; named ones are gathered.
    while let Some(schema) = pending.pop() {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference
                .trim_start_matches("#/components/schemas/")
                .to_owned();
            if names.insert(name.clone()) {
                pending.push(spec["components"]["schemas"][&name].clone());
            }
        }
        for nested in schema["properties"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            pending.push(nested.clone());
        }
        pending.extend(schema["allOf"].as_array().into_iter().flatten().cloned());
        if let Some(items) = schema.get("items") {
            pending.push(items.clone());
        }
        if let Some(more) = schema
            .get("additionalProperties")
            .filter(|more| more.is_object())
        {
            pending.push(more.clone());
        }
    }
    let schemas = spec
        .get_mut("components")
        .and_then(|components| components.get_mut("schemas"))
        .and_then(Value::as_object_mut);
    if let Some(schemas) = schemas {
        for (name, schema) in schemas.iter_mut() {
            if names.contains(name) {
                close(schema);
            }
        }
    }
    for (_, operation) in super::spec_index::operations_mut(spec) {
        let content = operation
            .get_mut("requestBody")
            .and_then(|body| body.get_mut("content"))
            .and_then(Value::as_object_mut);
        for schema in content
            .into_iter()
            .flat_map(|content| content.values_mut())
            .filter_map(|media| media.get_mut("schema"))
        {
            close(schema);
        }
    }
}

/// `additionalProperties: false` on `schema` if it names properties and says nothing of others.
fn close(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        if object.contains_key("properties") && !object.contains_key("additionalProperties") {
            object.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
    }
}

/// An object's shape, as [`BodySchemas::shape`] gathers it.
#[derive(Default)]
struct Shape<'a> {
    properties: Vec<(&'a String, &'a Value)>,
    required: Vec<&'a str>,
    /// Whether the schema names its properties (so that others are unknown).
    constrained: bool,
    /// The schema of further properties, when it takes them (`Null` for any).
    more: Option<&'a Value>,
}

/// Whether `text` is an RFC 3339 `full-date`: exactly `YYYY-MM-DD`, a real day. (chrono alone
/// also takes `+1999-05-05`, `1998-5-6` and leading spaces.)
fn is_full_date(text: &str) -> bool {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    shape && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// The path of field `name` inside `at`.
fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// The path of the first key that appears twice in one object of `body` (JSON text), if any.
fn duplicate_key(body: &[u8]) -> Option<String> {
    let found = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let _ = Unique {
        at: String::new(),
        found: &found,
    }
    .deserialize(&mut reader);
    found.into_inner()
}

/// Walks a JSON value, stopping at the first key repeated within one object.
struct Unique<'a> {
    at: String,
    found: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        while items
            .next_element_seed(Unique {
                at: format!("{}[{index}]", self.at),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(name) = fields.next_key::<String>()? {
            let at = join(&self.at, &name);
            if !seen.insert(name) {
                *self.found.borrow_mut() = Some(at);
                return Err(de::Error::custom("duplicate key"));
            }
            fields.next_value_seed(Unique {
                at,
                found: self.found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> BodySchemas {
        let spec = json!({
            "paths": {
                "/v1/things/{id}": {
                    "patch": {"requestBody": {"content": {"application/json; charset=utf-8": {
                        "schema": {"$ref": "#/components/schemas/ThingPatch"}}}}},
                    "delete": {}
                },
                "/v1/things/special": {
                    "patch": {"requestBody": {"content": {"application/json": {
                        "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}}}}
                },
                "/v1/things": {
                    "post": {"requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewThing"}}}}}
                }
            },
            "components": {"schemas": {
                "ThingPatch": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 3},
                    "nick": {"type": "string", "nullable": true},
                    "shown": {"type": "boolean"},
                    "born": {"type": "string", "format": "date"},
                    "owner": {"type": "string", "format": "uuid"},
                    "kind": {"allOf": [{"$ref": "#/components/schemas/Kind"}]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "place": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "credential": {"type": "object", "additionalProperties": {}}
                }},
                "NewThing": {"type": "object", "required": ["name", "place"], "properties": {
                    "name": {"type": "string"},
                    "place": {"$ref": "#/components/schemas/Place"},
                    "places": {"type": "array", "items": {"$ref": "#/components/schemas/Place"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }},
                "Place": {"type": "object", "required": ["city"], "properties": {
                    "city": {"type": "string"}, "street": {"type": "string"}
                }},
                "Kind": {"type": "string", "enum": ["a", "b"]}
            }}
        });
        BodySchemas::from_spec(&spec)
    }

    fn check(path: &str, body: serde_json::Value) -> Result<(), BodyProblem> {
        schemas().check("PATCH", path, body.to_string().as_bytes(), true)
    }

    fn wrong_type(field: &str, expected: &str) -> Result<(), BodyProblem> {
        Err(BodyProblem::WrongType {
            field: field.to_owned(),
            expected: expected.to_owned(),
        })
    }

    /// The fields named by a `Fields` problem, as `code field`.
    fn named(problem: Result<(), BodyProblem>) -> Vec<String> {
        match problem {
            Err(BodyProblem::Fields(errors)) => errors
                .iter()
                .map(|error| format!("{} {}", error.code, error.field))
                .collect(),
            other => panic!("not a field problem: {other:?}"),
        }
    }

    #[test]
    fn bodies_of_the_documented_shape_pass_whatever_else_is_wrong_with_them() {
        let body = json!({"name": "abc", "shown": true, "kind": "a", "tags": ["x"],
                          "place": {"city": "杭州"}});
        assert_eq!(check("/v1/things/7", body), Ok(()));
        assert_eq!(check("/v1/things/7", json!({"nick": null})), Ok(()));
        // A free object (a WebAuthn credential) holds what its client sends, nulls too.
        let credential = json!({"credential": {"authenticatorAttachment": null, "n": {"x": 1}}});
        assert_eq!(check("/v1/things/7", credential), Ok(()));
        assert_eq!(
            check("/v1/things/7", json!({"credential": null})),
            wrong_type("credential", "a value, not null (leave it out)")
        );
    }

    #[test]
    fn a_body_the_operation_needs_cannot_be_empty_or_null() {
        for body in [&b""[..], b"  \n", b"null"] {
            assert_eq!(
                schemas().check("POST", "/v1/things", body, true),
                Err(BodyProblem::Missing)
            );
        }
        // Whatever its content type says.
        assert_eq!(
            schemas().check("POST", "/v1/things", b"", false),
            Err(BodyProblem::Missing)
        );
        // A body the operation may go without.
        assert_eq!(schemas().check("PATCH", "/v1/things/7", b"", true), Ok(()));
    }

    #[test]
    fn null_is_a_value_only_where_the_document_says_nullable() {
        assert_eq!(
            check("/v1/things/7", json!({"name": null})),
            wrong_type("name", "a value, not null (leave it out)")
        );
        assert_eq!(
            check("/v1/things/7", json!({"place": {"city": null}})),
            wrong_type("place.city", "a value, not null (leave it out)")
        );
        assert_eq!(
            named(
                schemas().check(
                    "POST",
                    "/v1/things",
                    json!({"name": null, "place": {"city": "x"}})
                        .to_string()
                        .as_bytes(),
                    true
                )
            ),
            ["required name"]
        );
    }

    #[test]
    fn a_value_of_another_type_names_its_field() {
        let cases = [
            (json!({"name": false}), wrong_type("name", "a string")),
            (json!({"name": 12}), wrong_type("name", "a string")),
            (
                json!({"name": "abcd"}),
                wrong_type("name", "text of at most 3 characters"),
            ),
            (json!({"name": "äöü"}), Ok(())),
            (
                json!({"shown": "yes"}),
                wrong_type("shown", "true or false"),
            ),
            (json!({"kind": 1}), wrong_type("kind", "a string")),
            (json!({"kind": "zzz"}), wrong_type("kind", "one of: a, b")),
            (
                json!({"born": "1990-02-30"}),
                wrong_type("born", "a date (YYYY-MM-DD)"),
            ),
            (
                json!({"born": "+1999-05-05"}),
                wrong_type("born", "a date (YYYY-MM-DD)"),
            ),
            (
                json!({"born": "1998-5-6"}),
                wrong_type("born", "a date (YYYY-MM-DD)"),
            ),
            (
                json!({"born": "  1998-05-06"}),
                wrong_type("born", "a date (YYYY-MM-DD)"),
            ),
            (json!({"owner": "12"}), wrong_type("owner", "a UUID")),
            (json!({"tags": "x"}), wrong_type("tags", "an array")),
            (json!({"tags": ["x", 2]}), wrong_type("tags[1]", "a string")),
            (
                json!({"place": {"city": []}}),
                wrong_type("place.city", "a string"),
            ),
            (json!(["name"]), wrong_type("", "an object")),
        ];
        for (body, expected) in cases {
            assert_eq!(check("/v1/things/7", body), expected);
        }
    }

    #[test]
    fn unknown_fields_and_missing_required_ones_are_named_together_at_every_depth() {
        let post = |body: serde_json::Value| {
            schemas().check("POST", "/v1/things", body.to_string().as_bytes(), true)
        };
        assert_eq!(
            named(check(
                "/v1/things/7",
                json!({"dispaly_name": "x", "place": {"city": "a", "extra": 1}})
            )),
            ["unknown_field dispaly_name", "unknown_field place.extra"]
        );
        assert_eq!(
            named(post(
                json!({"place": {"street": "x"}, "places": [{"city": "a"}, {"town": 1}]})
            )),
            [
                "required place.city",
                "unknown_field places[1].town",
                "required places[1].city",
                "required name"
            ]
        );
        assert_eq!(
            named(post(json!({"name": null, "place": null}))),
            ["required name", "required place"]
        );
        // A map takes any key, but its values still have their type.
        assert_eq!(
            post(json!({"name": "n", "place": {"city": "c"}, "labels": {"any": "thing"}})),
            Ok(())
        );
        assert_eq!(
            post(json!({"name": "n", "place": {"city": "c"}, "labels": {"any": 1}})),
            wrong_type("labels.any", "a string")
        );
    }

    #[test]
    fn a_key_twice_in_one_object_is_refused_by_its_path() {
        let raw = |body: &str| schemas().check("PATCH", "/v1/things/7", body.as_bytes(), true);
        let duplicate = |field: &str| Err(BodyProblem::DuplicateField(field.to_owned()));
        assert_eq!(raw(r#"{"name":"a","name":"b"}"#), duplicate("name"));
        assert_eq!(
            raw(r#"{"place":{"city":"a","city":"b"}}"#),
            duplicate("place.city")
        );
        assert_eq!(
            raw(r#"{"tags":[{"a":1},{"b":1,"b":2}]}"#),
            duplicate("tags[1].b")
        );
        // The same key in two objects is no duplicate.
        assert_eq!(raw(r#"{"place":{"city":"a"},"name":"cit"}"#), Ok(()));
    }

    #[test]
    fn the_document_closes_the_objects_request_bodies_hold_and_no_others() {
        let mut spec = json!({
            "paths": {"/v1/things": {
                "post": {"requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/NewThing"}}}}},
                "get": {"responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}}}}
            }},
            "components": {"schemas": {
                "NewThing": {"type": "object", "properties": {
                    "places": {"type": "array", "items": {"$ref": "#/components/schemas/Place"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }},
                "Place": {"type": "object", "properties": {"city": {"type": "string"}}},
                "Thing": {"type": "object", "properties": {"name": {"type": "string"}}}
            }}
        });
        declare_closed_bodies(&mut spec);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(schemas["NewThing"]["additionalProperties"], false);
        assert_eq!(schemas["Place"]["additionalProperties"], false);
        assert_eq!(
            schemas["NewThing"]["properties"]["labels"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert_eq!(schemas["Thing"].get("additionalProperties"), None);
        // Nothing else is added: an operation without a body still has none.
        assert_eq!(spec["paths"]["/v1/things"]["get"].get("requestBody"), None);
    }

    #[test]
    fn the_operation_is_found_by_method_and_path_literal_first() {
        assert_eq!(
            check("/v1/things/special", json!({"n": "1"})),
            wrong_type("n", "an integer")
        );
        assert_eq!(
            named(check("/v1/things/special", json!({"name": 1}))),
            ["unknown_field name"]
        );
        let body = json!({"name": 1}).to_string();
        // An operation that takes no body: any body but `{}` and `null`, JSON or not.
        for (body, json) in [
            (body.as_bytes(), true),
            (b"{\"x\":", true),
            (b"hello", false),
            (b"x=1", false),
        ] {
            assert_eq!(
                schemas().check("DELETE", "/v1/things/7", body, json),
                Err(BodyProblem::Unwanted)
            );
        }
        for nothing in [&b"{}"[..], b"", b"null", b" { } "] {
            assert_eq!(
                schemas().check("DELETE", "/v1/things/7", nothing, true),
                Ok(())
            );
        }
        assert_eq!(
            schemas().check("PATCH", "/v1/other", body.as_bytes(), true),
            Ok(())
        );
        assert_eq!(
            schemas().check("PATCH", "/v1/things/7", b"{not json", true),
            Err(BodyProblem::NotJson { line: 1, column: 2 })
        );
        // Another content type, for an operation that takes JSON, is poem's (415).
        assert_eq!(
            schemas().check("PATCH", "/v1/things/7", b"{not json", false),
            Ok(())
        );
    }
}
