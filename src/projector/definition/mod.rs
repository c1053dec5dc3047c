//! Projection definitions: `projections/<name>.sql`, compiled into the binary.
//!
//! A file holds the projection's tables first, then one section per event type it handles,
//! headed by a line `-- on <EventType>` (or `-- on A, B` for several). Each section holds one or
//! more statements, each ending with `;` at the end of a line; every statement runs with `$1`
//! bound to the event's envelope as `jsonb`. Tables are created unqualified: the engine creates
//! them in the projection's own schema and runs statements with that schema as `search_path`.
//! Statements are `INSERT`, `UPDATE` or `DELETE`: a batch runs them inside a PL/pgSQL function
//! (see [`Definition::batch_function_sql`]), where a plain `SELECT` has nowhere to put its rows and
//! fails, sending every batch down the slow, event-by-event path.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A parsed projection definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The projection's name (the file's stem).
    pub name: String,
    /// SHA-256 of the file, hex: the live tables record the definition they were built with.
    pub hash: String,
    /// The SQL that creates the tables (and any unique index).
    pub tables: String,
    /// The plain `CREATE INDEX` statements: a rebuild runs them after filling the tables,
    /// which is much faster than keeping them up to date row by row.
    pub indexes: String,
    /// Statements per event type, in file order.
    pub handlers: BTreeMap<String, Vec<String>>,
}

/// Why a definition cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DefinitionError {
    /// The name is not a plain lower-case identifier.
    #[error("projection name {0:?} must be lower-case letters, digits and underscores")]
    BadName(String),
    /// A section header names no event type, or a malformed one.
    #[error("line {line}: `-- on` must name event types, like `-- on AccountRegistered`")]
    BadHeader {
        /// 1-based line number.
        line: usize,
    },
    /// Two sections for one event type.
    #[error("line {line}: event type {event_type} already has a section")]
    DuplicateEventType {
        /// 1-based line number.
        line: usize,
        /// The repeated type.
        event_type: String,
    },
    /// A section without statements.
    #[error("line {line}: the section has no statement")]
    EmptySection {
        /// 1-based line number of the header.
        line: usize,
    },
    /// SQL after the last `;` of a section.
    #[error("line {line}: statement does not end with `;` at the end of a line")]
    Unterminated {
        /// 1-based line number where the statement starts.
        line: usize,
    },
    /// No tables before the first section.
    #[error("the definition creates no tables before its first `-- on` section")]
    NoTables,
}

/// The projections this build of the service runs.
pub fn builtin() -> anyhow::Result<Vec<Definition>> {
    const FILES: &[(&str, &str)] = &[
        ("users", include_str!("../../../projections/users.sql")),
        ("follows", include_str!("../../../projections/follows.sql")),
    ];
    FILES
        .iter()
        .map(|(name, text)| {
            Definition::parse(name, text)
                .map_err(|error| anyhow::anyhow!("projections/{name}.sql: {error}"))
        })
        .collect()
}

/// The built-in projection called `name`.
pub fn builtin_named(name: &str) -> anyhow::Result<Definition> {
    builtin()?
        .into_iter()
        .find(|definition| definition.name == name)
        .ok_or_else(|| anyhow::anyhow!("there is no projection called {name:?}"))
}

impl Definition {
    /// Parses the text of `projections/<name>.sql`.
    pub fn parse(name: &str, text: &str) -> Result<Self, DefinitionError> {
        let plain = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(DefinitionError::BadName(name.to_owned()));
        }
        let mut tables = String::new();
        let mut handlers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // The section being read: its types, header line and statements so far.
        let mut section: Option<Section> = None;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if let Some(types) = header(line, number)? {
                if let Some(done) = section.take() {
                    done.finish(&mut handlers)?;
                }
                section = Some(Section::new(types, number));
                continue;
            }
            match section.as_mut() {
                None => {
                    tables.push_str(line);
                    tables.push('\n');
                }
                Some(section) => section.push_line(line, number),
            }
        }
        if let Some(done) = section.take() {
            done.finish(&mut handlers)?;
        }
        if !has_sql(&tables) {
            return Err(DefinitionError::NoTables);
        }
        let (tables, indexes) = split_indexes(&tables);
        Ok(Self {
            name: name.to_owned(),
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            tables,
            indexes,
            handlers,
        })
    }

    /// The schema holding the live tables.
    pub fn schema(&self) -> String {
        format!("projection_{}", self.name)
    }

    /// The schema a rebuild fills before it is swapped in.
    pub fn next_schema(&self) -> String {
        format!("projection_{}_next", self.name)
    }

    /// The event types the projection handles.
    pub fn event_types(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// The name of the session's batch function of this definition (see
    /// [`Definition::batch_function_sql`]).
    pub fn batch_function(&self) -> String {
        format!("pg_temp.projection_{}", &self.hash[..16])
    }

    /// The SQL that creates the batch function: `<name>(jsonb[])` applies each envelope of the
    /// array, in order, with the statements of its type. One call per batch spares a round of
    /// the protocol per statement, and PL/pgSQL keeps each statement's plan for the session.
    /// There is one function per event type, whose `$1` is the envelope as in the file; tables
    /// resolve by the caller's `search_path`, as for the statements run one by one.
    pub fn batch_function_sql(&self) -> String {
        let name = self.batch_function();
        // A dollar quote that no statement contains.
        let quote = format!("$p{}$", &self.hash[..8]);
        let mut sql = String::new();
        let mut dispatch = String::new();
        for (index, (event_type, statements)) in self.handlers.iter().enumerate() {
            sql.push_str(&format!(
                "CREATE FUNCTION {name}_{index}(jsonb) RETURNS void LANGUAGE plpgsql AS {quote}\n\
                 BEGIN\n{body}END\n{quote};\n",
                body = statements.concat(),
            ));
            dispatch.push_str(&format!(
                "      WHEN '{event_type}' THEN PERFORM {name}_{index}(envelope);\n"
            ));
        }
        sql.push_str(&format!(
            "CREATE FUNCTION {name}(jsonb[]) RETURNS void LANGUAGE plpgsql AS {quote}\n\
             DECLARE envelope jsonb;\n\
             BEGIN\n\
               FOREACH envelope IN ARRAY $1 LOOP\n\
                 CASE envelope->>'type'\n{dispatch}      ELSE NULL;\n    END CASE;\n\
               END LOOP;\n\
             END\n{quote};\n"
        ));
        sql
    }
}

/// The event types of a `-- on A, B` line; `None` for any other line.
fn header(line: &str, number: usize) -> Result<Option<Vec<String>>, DefinitionError> {
    let Some(rest) = line.trim().strip_prefix("-- on ") else {
        return Ok(None);
    };
    let types: Vec<String> = rest.split(',').map(|t| t.trim().to_owned()).collect();
    let well_formed = types.iter().all(|t| {
        t.starts_with(|c: char| c.is_ascii_uppercase())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if well_formed {
        Ok(Some(types))
    } else {
        Err(DefinitionError::BadHeader { line: number })
    }
}

/// Splits the tables section into its other statements and its plain (not unique)
/// `CREATE INDEX` statements; statements end with `;` at the end of a line.
fn split_indexes(section: &str) -> (String, String) {
    let (mut others, mut indexes, mut current) = (String::new(), String::new(), String::new());
    for line in section.lines() {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            let statement = std::mem::take(&mut current);
            let code: String = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join(" ");
            if code
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE INDEX")
            {
                indexes.push_str(&statement);
            } else {
                others.push_str(&statement);
            }
        }
    }
    others.push_str(&current);
    (others, indexes)
}

/// True when `sql` holds more than blanks and `--` comments.
fn has_sql(sql: &str) -> bool {
    sql.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with("--")
    })
}

struct Section {
    types: Vec<String>,
    header_line: usize,
    statements: Vec<String>,
    current: String,
    current_line: usize,
}

impl Section {
    fn new(types: Vec<String>, header_line: usize) -> Self {
        Self {
            types,
            header_line,
            statements: Vec::new(),
            current: String::new(),
            current_line: header_line + 1,
        }
    }

    fn push_line(&mut self, line: &str, number: usize) {
        if !has_sql(&self.current) {
            self.current_line = number;
        }
        self.current.push_str(line);
        self.current.push('\n');
        if line.trim_end().ends_with(';') && has_sql(&self.current) {
            self.statements.push(std::mem::take(&mut self.current));
        }
    }

    fn finish(self, handlers: &mut BTreeMap<String, Vec<String>>) -> Result<(), DefinitionError> {
        if has_sql(&self.current) {
            return Err(DefinitionError::Unterminated {
                line: self.current_line,
            });
        }
        if self.statements.is_empty() {
            return Err(DefinitionError::EmptySection {
                line: self.header_line,
            });
        }
        for event_type in self.types {
            if handlers.contains_key(&event_type) {
                return Err(DefinitionError::DuplicateEventType {
                    line: self.header_line,
                    event_type,
                });
            }
            handlers.insert(event_type, self.statements.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
