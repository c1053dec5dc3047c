//! The OpenAPI document's operations, indexed the way the edge matches requests against them:
//! each documented path split at `/`, literal paths (`/v1/sessions/current`) before templates
//! (`/v1/sessions/{id}`). `edge` reads the methods of a path from it (`Allow` on 405 answers,
//! idempotency) and `body_types` the schema of an operation's JSON body.

use serde_json::Value;

/// Every operation of an OpenAPI document, with its method (lower case, as the document has
/// it), for the passes that rewrite the document.
pub fn operations_mut(spec: &mut Value) -> impl Iterator<Item = (&str, &mut Value)> {
    spec.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.iter_mut())
        .map(|(method, operation)| (method.as_str(), operation))
}

/// A documented path, split at `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PathTemplate(Vec<String>);

impl PathTemplate {
    fn new(path: &str) -> Self {
        Self(path.split('/').map(str::to_owned).collect())
    }

    fn placeholders(&self) -> usize {
        self.0.iter().filter(|s| s.starts_with('{')).count()
    }

    /// True when a request path, split at `/`, fits: equal segments, or any non-empty segment
    /// where the template has a placeholder.
    fn matches(&self, wanted: &[&str]) -> bool {
        self.0.len() == wanted.len()
            && self.0.iter().zip(wanted).all(|(expected, actual)| {
                expected == actual || (expected.starts_with('{') && !actual.is_empty())
            })
    }
}

/// Every operation of the document with what a reader keeps of it, in match order.
#[derive(Debug, Default)]
pub struct SpecIndex<T>(Vec<(PathTemplate, String, T)>);

impl<T> SpecIndex<T> {
    /// Indexes the operations of `spec`: `keep` gets each operation's path template
    /// (`/v1/users/{id}`) and JSON and returns what to keep of it, or `None` to leave it out.
    /// Methods are upper case.
    pub fn from_spec(spec: &Value, keep: impl Fn(&str, &Value) -> Option<T>) -> Self {
        let mut operations: Vec<(PathTemplate, String, T)> =
            spec["paths"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(path, methods)| {
                    let keep = &keep;
                    methods.as_object().into_iter().flatten().filter_map(
                        move |(method, operation)| {
                            let kept = keep(path, operation)?;
                            Some((PathTemplate::new(path), method.to_ascii_uppercase(), kept))
                        },
                    )
                })
                .collect();
        operations.sort_by_key(|(template, _, _)| template.placeholders());
        Self(operations)
    }

    /// The operations of the documented path that `path` fits (the most literal one), as
    /// (method, what was kept).
    pub fn for_path<'a>(&'a self, path: &str) -> impl Iterator<Item = (&'a str, &'a T)> + 'a {
        let wanted: Vec<&str> = path.split('/').collect();
        let template = self
            .0
            .iter()
            .find(|(template, _, _)| template.matches(&wanted))
            .map(|(template, _, _)| template);
        self.0
            .iter()
            .filter(move |(candidate, _, _)| Some(candidate) == template)
            .map(|(_, method, kept)| (method.as_str(), kept))
    }

    /// What was kept of the operation `method path`, if the document has it.
    pub fn operation(&self, method: &str, path: &str) -> Option<&T> {
        self.for_path(path)
            .find(|(candidate, _)| *candidate == method)
            .map(|(_, kept)| kept)
    }
}
