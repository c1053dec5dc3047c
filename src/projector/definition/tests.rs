use super::*;

const SAMPLE: &str = "\
-- a comment
CREATE TABLE things (id uuid PRIMARY KEY, name text);
-- looked up by name
CREATE INDEX things_name ON things (name);
CREATE UNIQUE INDEX things_unique ON things (lower(name));

-- on ThingMade
INSERT INTO things VALUES (($1->>'stream_id')::uuid,
                       $1->'data'->>'name');
-- on ThingRenamed, ThingRetitled
-- a comment inside a section
UPDATE things SET name = $1->'data'->>'name' WHERE id = ($1->>'stream_id')::uuid;
UPDATE things SET name = upper(name) WHERE id = ($1->>'stream_id')::uuid;
";

#[test]
fn a_definition_has_tables_and_statements_per_event_type() {
    let definition = Definition::parse("things", SAMPLE).unwrap();
    assert!(definition.tables.contains("CREATE TABLE things"));
    assert!(definition.indexes.contains("CREATE INDEX things_name"));
    assert!(!definition.tables.contains("CREATE INDEX things_name"));
    assert!(
        definition
            .tables
            .contains("CREATE UNIQUE INDEX things_unique")
    );
    assert_eq!(
        definition.event_types(),
        ["ThingMade", "ThingRenamed", "ThingRetitled"]
    );
    assert_eq!(definition.handlers["ThingMade"].len(), 1);
    assert!(definition.handlers["ThingMade"][0].contains("$1->'data'->>'name');"));
    assert_eq!(definition.handlers["ThingRenamed"].len(), 2);
    assert_eq!(
        definition.handlers["ThingRenamed"],
        definition.handlers["ThingRetitled"]
    );
    assert_eq!(definition.schema(), "projection_things");
    assert_eq!(definition.hash.len(), 64);
}

#[test]
fn the_batch_function_runs_each_types_statements_as_written() {
    let definition = Definition::parse("things", SAMPLE).unwrap();
    let (name, sql) = (definition.batch_function(), definition.batch_function_sql());
    assert_eq!(
        name,
        format!("pg_temp.projection_{}", &definition.hash[..16])
    );
    for (index, (event_type, statements)) in definition.handlers.iter().enumerate() {
        assert!(sql.contains(&format!("WHEN '{event_type}' THEN PERFORM {name}_{index}(")));
        let body = format!("BEGIN\n{}END", statements.concat());
        assert!(sql.contains(&body), "{body} not in {sql}");
    }
    assert_eq!(
        sql.matches("CREATE FUNCTION").count(),
        definition.handlers.len() + 1
    );
}

#[test]
fn any_change_to_the_file_changes_the_hash() {
    let one = Definition::parse("things", SAMPLE).unwrap();
    let other = Definition::parse("things", &format!("{SAMPLE}\n")).unwrap();
    assert_ne!(one.hash, other.hash);
}

#[test]
fn malformed_definitions_are_refused_with_the_line() {
    let cases = [
        ("Things", SAMPLE, DefinitionError::BadName("Things".into())),
        (
            "things",
            "-- on ThingMade\nSELECT 1;\n",
            DefinitionError::NoTables,
        ),
        (
            "things",
            "CREATE TABLE t (id int);\n-- on thing made\nSELECT 1;\n",
            DefinitionError::BadHeader { line: 2 },
        ),
        (
            "things",
            "CREATE TABLE t (id int);\n-- on A\n-- nothing\n-- on B\nSELECT 1;\n",
            DefinitionError::EmptySection { line: 2 },
        ),
        (
            "things",
            "CREATE TABLE t (id int);\n-- on A\nSELECT 1;\n\nSELECT 2\n",
            DefinitionError::Unterminated { line: 5 },
        ),
        (
            "things",
            "CREATE TABLE t (id int);\n-- on A\nSELECT 1;\n-- on B, A\nSELECT 2;\n",
            DefinitionError::DuplicateEventType {
                line: 4,
                event_type: "A".into(),
            },
        ),
    ];
    for (name, text, expected) in cases {
        assert_eq!(Definition::parse(name, text), Err(expected), "{text}");
    }
}

#[test]
fn every_builtin_projection_parses() {
    let all = builtin().unwrap();
    assert!(all.iter().any(|d| d.name == "users"));
    let users = all.iter().find(|d| d.name == "users").unwrap();
    assert!(users.handlers.contains_key("AccountRegistered"));
    assert!(users.handlers.contains_key("AccountDeleted"));
}
