//! JSON request bodies hold the types the OpenAPI document gives them.
//!
//! poem-openapi reads a JSON number or boolean into a `String` field (`{"name": false}` becomes
//! the name "false"). A client that sends the wrong type has a bug it should hear about, and the
//! document promises a string, so every JSON body is checked against its operation's schema
//! before the operation reads it: a string, boolean, number, object or array wherever the
//! document says so, or `400 invalid_body` naming the field. `null` is left to the operation,
//! which reads it as "clear this field" or refuses it. Constraints beyond the type (lengths,
//! formats, required fields) stay with the operation, which reports them per field.

use super::spec_index::SpecIndex;
use serde_json::Value;
use std::sync::Arc;

/// The request body schema of each operation that takes JSON, read from the OpenAPI document.
#[derive(Debug, Clone, Default)]
pub struct BodySchemas(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// The JSON body schema of each operation that takes one.
    operations: SpecIndex<Value>,
    /// `components.schemas`, for `$ref`.
    schemas: Value,
}

impl BodySchemas {
    /// Reads the body schemas from the OpenAPI document.
    pub fn from_spec(spec: &Value) -> Self {
        let operations = SpecIndex::from_spec(spec, |operation| {
            let content = operation["requestBody"]["content"].as_object()?;
            let (_, media) = content
                .iter()
                .find(|(media_type, _)| media_type.starts_with("application/json"))?;
            Some(media["schema"].clone())
        });
        Self(Arc::new(Inner {
            operations,
            schemas: spec["components"]["schemas"].clone(),
        }))
    }

    /// Checks a JSON body sent to `method path`; `Err` says which field has the wrong type.
    /// Bodies that are no JSON at all, and operations that take none, are left to poem.
    pub fn check(&self, method: &str, path: &str, body: &[u8]) -> Result<(), String> {
        let Some(schema) = self.0.operations.operation(method, path) else {
            return Ok(());
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Ok(());
        };
        match self.mismatch(schema, &value, "") {
            None => Ok(()),
            Some((field, expected)) if field.is_empty() => {
                Err(format!("the body must be {expected}"))
            }
            Some((field, expected)) => Err(format!("`{field}` must be {expected}")),
        }
    }

    /// The first place where `value` is not of the type `schema` gives: its field path and
    /// the type wanted. (`oneOf` and `anyOf`, which the document does not use, pass unchecked.)
    fn mismatch(&self, schema: &Value, value: &Value, at: &str) -> Option<(String, &'static str)> {
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
            return Some((at.to_owned(), expected));
        }
        match value {
            Value::Object(fields) => fields.iter().find_map(|(name, field)| {
                let schema = schema["properties"]
                    .get(name)
                    .or_else(|| schema.get("additionalProperties"))?;
                let at = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                self.mismatch(schema, field, &at)
            }),
            Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
                self.mismatch(&schema["items"], item, &format!("{at}[{index}]"))
            }),
            _ => None,
        }
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
                }
            },
            "components": {"schemas": {
                "ThingPatch": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 3},
                    "shown": {"type": "boolean"},
                    "kind": {"allOf": [{"$ref": "#/components/schemas/Kind"}]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "place": {"type": "object", "properties": {"city": {"type": "string"}}}
                }},
                "Kind": {"type": "string", "enum": ["a", "b"]}
            }}
        });
        BodySchemas::from_spec(&spec)
    }

    fn check(path: &str, body: serde_json::Value) -> Result<(), String> {
        schemas().check("PATCH", path, body.to_string().as_bytes())
    }

    #[test]
    fn bodies_of_the_documented_types_pass_whatever_else_is_wrong_with_them() {
        let body = json!({"name": "far too long", "shown": true, "kind": "zzz", "tags": ["x"],
                          "place": {"city": "杭州", "extra": 1}, "unknown": 5});
        assert_eq!(check("/v1/things/7", body), Ok(()));
        assert_eq!(
            check("/v1/things/7", json!({"name": null, "place": null})),
            Ok(())
        );
    }

    #[test]
    fn a_value_of_another_type_names_its_field() {
        let cases = [
            (json!({"name": false}), "`name` must be a string"),
            (json!({"name": 12}), "`name` must be a string"),
            (json!({"shown": "yes"}), "`shown` must be true or false"),
            (json!({"kind": 1}), "`kind` must be a string"),
            (json!({"tags": "x"}), "`tags` must be an array"),
            (json!({"tags": ["x", 2]}), "`tags[1]` must be a string"),
            (
                json!({"place": {"city": []}}),
                "`place.city` must be a string",
            ),
            (json!(["name"]), "the body must be an object"),
        ];
        for (body, expected) in cases {
            assert_eq!(check("/v1/things/7", body), Err(expected.to_owned()));
        }
    }

    #[test]
    fn the_operation_is_found_by_method_and_path_literal_first() {
        assert_eq!(
            check("/v1/things/special", json!({"n": "1"})),
            Err("`n` must be an integer".to_owned())
        );
        assert_eq!(check("/v1/things/special", json!({"name": 1})), Ok(()));
        let body = json!({"name": 1}).to_string();
        assert_eq!(
            schemas().check("DELETE", "/v1/things/7", body.as_bytes()),
            Ok(())
        );
        assert_eq!(
            schemas().check("PATCH", "/v1/other", body.as_bytes()),
            Ok(())
        );
        assert_eq!(
            schemas().check("PATCH", "/v1/things/7", b"{not json"),
            Ok(())
        );
    }
}
