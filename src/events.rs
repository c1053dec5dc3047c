//! The contract for subscribers: JSON Schemas of the envelope the relay publishes and of each
//! event type's `data`, generated from the Rust types and checked in under `openapi/events/`
//! (`accounts event-schemas openapi/events`; a test fails when they drift).

use crate::domain::account::AccountEvent;
use crate::domain::address_book::AddressEvent;
use crate::domain::code::CodeEvent;
use crate::domain::follow_graph::FollowEvent;
use crate::relay::Envelope;
use schemars::{Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// File name to schema text: `envelope.json` and `<stream_type>.<EventType>.json` for each type.
pub fn schemas() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let envelope = generator().into_root_schema_for::<Envelope<'static>>();
    files.insert("envelope.json".to_owned(), pretty(envelope.as_value()));

    add_event_types(
        &mut files,
        "account",
        generator().into_root_schema_for::<AccountEvent>(),
    );
    add_event_types(
        &mut files,
        "code",
        generator().into_root_schema_for::<CodeEvent>(),
    );
    add_event_types(
        &mut files,
        "address_book",
        generator().into_root_schema_for::<AddressEvent>(),
    );
    add_event_types(
        &mut files,
        "follow_graph",
        generator().into_root_schema_for::<FollowEvent>(),
    );
    files
}

/// Adds `<stream_type>.<EventType>.json` for each variant of an adjacently tagged event enum.
fn add_event_types(files: &mut BTreeMap<String, String>, stream_type: &str, events: Schema) {
    let events = events.as_value();
    let definitions = events.get("$defs").cloned().unwrap_or_else(|| json!({}));
    let variants = events
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for variant in variants {
        let Some(event_type) = variant
            .pointer("/properties/event_type/const")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let mut data = variant
            .pointer("/properties/data")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(object) = data.as_object_mut() {
            let mut schema = serde_json::Map::new();
            schema.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            schema.insert("title".into(), json!(event_type));
            schema.insert(
                "description".into(),
                variant.get("description").cloned().unwrap_or(json!("")),
            );
            schema.extend(std::mem::take(object));
            if !definitions
                .as_object()
                .is_some_and(serde_json::Map::is_empty)
            {
                schema.insert("$defs".into(), definitions.clone());
            }
            data = Value::Object(schema);
        }
        files.insert(format!("{stream_type}.{event_type}.json"), pretty(&data));
    }
}

/// The name of every event type the log holds (`ProfileUpdated`, ...), of every stream type.
pub fn event_type_names() -> &'static std::collections::BTreeSet<String> {
    static NAMES: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        schemas()
            .keys()
            .filter_map(|file| {
                let (stream_and_type, _) = file.rsplit_once(".json")?;
                let (_, event_type) = stream_and_type.split_once('.')?;
                Some(event_type.to_owned())
            })
            .collect()
    })
}

/// Every schema in one JSON object, keyed by file name.
pub fn schemas_json() -> String {
    let all: BTreeMap<String, Value> = schemas()
        .into_iter()
        .map(|(name, text)| (name, serde_json::from_str(&text).unwrap_or(Value::Null)))
        .collect();
    pretty(&json!(all))
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_checked_in_event_schemas_match_the_code() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/events");
        let generated = schemas();
        let mut checked_in: Vec<String> = std::fs::read_dir(&folder)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        checked_in.sort();
        let expected: Vec<String> = generated.keys().cloned().collect();
        assert_eq!(
            checked_in, expected,
            "regenerate with `cargo run -- event-schemas openapi/events`"
        );
        for (name, text) in &generated {
            let on_disk = std::fs::read_to_string(folder.join(name)).unwrap_or_default();
            assert!(
                on_disk == *text,
                "openapi/events/{name} drifted; regenerate with `cargo run -- event-schemas openapi/events`"
            );
        }
    }

    #[test]
    fn every_event_type_has_a_schema_of_its_data() {
        let files = schemas();
        for name in [
            "account.AccountRegistered",
            "account.ProfileUpdated",
            "account.UsernameChanged",
            "account.PasswordChanged",
            "account.PrivacyChanged",
            "account.SessionStarted",
            "account.SignInFailed",
            "account.SessionsEnded",
            "account.AccountDeleted",
            "code.CodeIssued",
            "code.CodeAttemptFailed",
            "code.CodeUsed",
            "account.EmailVerified",
            "account.EmailChanged",
            "account.PhoneChanged",
            "address_book.AddressAdded",
            "address_book.AddressChanged",
            "address_book.AddressRemoved",
            "address_book.DefaultAddressSet",
            "follow_graph.Followed",
            "follow_graph.Unfollowed",
            "follow_graph.FollowGroupCreated",
            "follow_graph.FollowGroupDeleted",
        ] {
            let event_type = name.split_once('.').unwrap().1;
            let text = &files[&format!("{name}.json")];
            let schema: Value = serde_json::from_str(text).unwrap();
            assert_eq!(schema["title"], event_type);
            assert!(
                schema["properties"]["at"].is_object(),
                "{event_type}: {text}"
            );
        }
        let envelope: Value = serde_json::from_str(&files["envelope.json"]).unwrap();
        for field in ["id", "type", "stream_id", "position", "data", "metadata"] {
            assert!(envelope["properties"][field].is_object(), "{field}");
        }
    }
}
