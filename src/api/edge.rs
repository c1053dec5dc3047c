//! What happens to every request before and after its operation: a request id, the client's
//! address (through trusted proxies), the body read under a size cap and its JSON types checked
//! against the document, and every error rendered as a problem answer in the caller's language.

use super::body_types::{BodyProblem, BodySchemas};
use super::i18n::Language;
use super::problem::{ApiError, FieldCode, ProblemCode};
use super::spec_index::SpecIndex;
use crate::service::FieldError;
use crate::service::executor::CommandMetadata;
use bytes::Bytes;
use ipnet::IpNet;
use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::{Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response};
use std::net::IpAddr;
use std::sync::Arc;
use tracing::Instrument;

/// The request's id: the caller's `X-Request-Id` when sensible, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// The client's address: the peer's, or, behind trusted proxies, the one they forwarded.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Trusts these addresses and ranges.
    pub fn new(networks: &[IpNet]) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the nearest hop outwards while
    /// the hop is a trusted proxy, the first address that is not. A client can write anything
    /// at the far end of the header, so only hops added by trusted proxies are believed, and an
    /// entry that is no address ends the walk at the last proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) => {
                    client = address.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// The methods each documented path answers, for the `Allow` header of 405 answers.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Arc<SpecIndex<()>>);

impl AllowedMethods {
    /// Reads the paths and their methods from the OpenAPI document.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        Self(Arc::new(SpecIndex::from_spec(spec, |_, _| Some(()))))
    }

    /// True when the path has an operation for the method.
    pub fn allows(&self, path: &str, method: &str) -> bool {
        self.0.operation(method, path).is_some()
    }

    /// The path's methods as an `Allow` header lists them, if the path is documented.
    fn for_path(&self, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = self.0.for_path(path).map(|(method, _)| method).collect();
        methods.sort_unstable();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

/// The parameters of each operation that the edge puts right before the operation reads them.
#[derive(Debug, Clone, Default)]
pub struct Parameters(Arc<SpecIndex<OperationParameters>>);

#[derive(Debug, Default)]
struct OperationParameters {
    /// Path parameters in order: poem-openapi calls the n-th `param<n>` in its errors.
    path: Vec<PathParameter>,
    /// Every query parameter.
    query: Vec<QueryParameter>,
    /// Query parameters holding a list (comma-separated, `explode: false`).
    lists: Vec<String>,
}

#[derive(Debug)]
struct PathParameter {
    name: String,
    /// The index of its segment in the path.
    segment: usize,
    /// A UUID (`format: uuid`): only its hyphenated spelling names the resource.
    uuid: bool,
    /// What its value must be, in words.
    expected: String,
}

#[derive(Debug)]
struct QueryParameter {
    name: String,
    required: bool,
    /// What its value must be, in words.
    expected: String,
}

impl Parameters {
    /// Reads each operation's parameters from the OpenAPI document.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let schemas = &spec["components"]["schemas"];
        Self(Arc::new(SpecIndex::from_spec(
            spec,
            |template, operation| {
                let mut kept = OperationParameters::default();
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let Some(name) = parameter["name"].as_str() else {
                        continue;
                    };
                    match parameter["in"].as_str() {
                        Some("path") => {
                            let placeholder = format!("{{{name}}}");
                            let segment = template
                                .split('/')
                                .position(|segment| segment == placeholder)
                                .unwrap_or(usize::MAX);
                            kept.path.push(PathParameter {
                                name: name.to_owned(),
                                segment,
                                uuid: parameter["schema"]["format"] == "uuid",
                                expected: expected_value(&parameter["schema"], schemas),
                            });
                        }
                        Some("query") => {
                            let schema = &parameter["schema"];
                            if schema["type"] == "array" {
                                kept.lists.push(name.to_owned());
                            }
                            kept.query.push(QueryParameter {
                                name: name.to_owned(),
                                required: parameter["required"] == true,
                                expected: expected_value(schema, schemas),
                            });
                        }
                        _ => {}
                    }
                }
                Some(kept)
            },
        )))
    }

    /// The request's path and query checked against its operation, found once; `Ok(Some)`
    /// holds the path and query to read instead of the ones sent (see `checked_path` and
    /// `checked_query`). Paths the document does not have pass as they are.
    fn checked(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let Some(operation) = self.0.operation(method, path) else {
            return Ok(None);
        };
        let canonical_path = operation.checked_path(path)?;
        let read_query = query.map_or(Ok(None), |query| operation.checked_query(query))?;
        if canonical_path.is_none() && read_query.is_none() {
            return Ok(None);
        }
        let path = canonical_path.as_deref().unwrap_or(path);
        Ok(Some(match read_query.as_deref().or(query) {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        }))
    }

    /// The problem for a parameter poem-openapi could not read: named as the document names
    /// it (poem-openapi calls the n-th path parameter `param<n>`), with what it must be, or as
    /// `required` when a required one is missing.
    fn parameter_problem(
        &self,
        method: &str,
        path: &str,
        query: &str,
        error: &poem::Error,
    ) -> Option<ApiError> {
        let operation = self.0.operation(method, path)?;
        let (name, reason) = error
            .downcast_ref::<poem_openapi::error::ParseParamError>()
            .map(|parse| (parse.name, parse.reason.as_str()))
            .or_else(|| {
                error
                    .downcast_ref::<poem_openapi::error::ParsePathError>()
                    .map(|parse| (parse.name, parse.reason.as_str()))
            })?;
        let must_be = |name: &str, expected: &str| match expected {
            "" => format!("`{name}` is not valid: {reason}"),
            expected => format!("`{name}` must be {expected}"),
        };
        let path_parameter = name
            .strip_prefix("param")
            .and_then(|index| index.parse::<usize>().ok())
            .and_then(|index| operation.path.get(index));
        if let Some(parameter) = path_parameter {
            return Some(ApiError::bad_parameter(
                &parameter.name,
                FieldCode::InvalidPathParameter,
                must_be(&parameter.name, &parameter.expected),
            ));
        }
        let parameter = operation.query_parameter(name)?;
        let given = url::form_urlencoded::parse(query.as_bytes()).any(|(given, _)| given == name);
        if parameter.required && !given {
            return Some(
                ApiError::new(ProblemCode::InvalidRequest).naming(vec![FieldError {
                    field: name.to_owned(),
                    code: crate::domain::values::Refusal::Required.as_str(),
                    message: format!("`{name}` is required"),
                }]),
            );
        }
        Some(ApiError::bad_parameter(
            name,
            FieldCode::WrongType,
            must_be(name, &parameter.expected),
        ))
    }
}

impl OperationParameters {
    fn query_parameter(&self, name: &str) -> Option<&QueryParameter> {
        self.query.iter().find(|known| known.name == name)
    }

    /// Refuses a path segment of a parameter that is not UTF-8 once percent-decoded, and a
    /// UUID parameter not in the hyphenated form the document gives (`urn:uuid:…`, braces and
    /// bare hex would name the same resource by another spelling). `Ok(Some)` is the path with
    /// its UUIDs in lower case, when one came in upper case: every layer after (idempotency's
    /// fingerprint included) then sees one spelling of each resource.
    fn checked_path(&self, path: &str) -> Result<Option<String>, ApiError> {
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        let mut lowered = false;
        for parameter in &self.path {
            let Some(raw) = segments.get(parameter.segment) else {
                continue;
            };
            let refused = |message: String| {
                ApiError::bad_parameter(&parameter.name, FieldCode::InvalidPathParameter, message)
            };
            if !is_utf8_once_decoded(raw) {
                let message = format!(
                    "`{}` is not UTF-8 text once percent-decoded",
                    parameter.name
                );
                return Err(refused(message));
            }
            if parameter.uuid && !(raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok()) {
                return Err(refused(format!("`{}` must be a UUID", parameter.name)));
            }
            if parameter.uuid && raw.bytes().any(|byte| byte.is_ascii_uppercase()) {
                segments[parameter.segment] = raw.to_ascii_lowercase();
                lowered = true;
            }
        }
        Ok(lowered.then(|| segments.join("/")))
    }

    /// The query as the operation reads it: every list parameter given more than once
    /// (`types=A&types=B`, the exploded form generated clients send) joined into the one
    /// comma-separated value the document declares (`types=A,B`), values percent-encoded as
    /// they came; `Ok(None)` when nothing needs joining. A parameter the operation does not
    /// take (`unknown_field`), or another one given twice (`duplicate_field`), is 400
    /// `invalid_request` naming it, and so is a value that is not UTF-8.
    fn checked_query(&self, query: &str) -> Result<Option<String>, ApiError> {
        let operation = self;
        let mut pairs: Vec<(String, Vec<&str>)> = Vec::new();
        let mut joined = false;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name: String = url::form_urlencoded::parse(raw_name.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            if operation.query_parameter(&name).is_none() {
                let known: Vec<&str> = operation.query.iter().map(|q| q.name.as_str()).collect();
                return Err(ApiError::bad_parameter(
                    &name,
                    FieldCode::UnknownField,
                    match known.as_slice() {
                        [] => format!(
                            "`{}` is not a parameter: this operation takes none",
                            name.escape_debug()
                        ),
                        known => format!(
                            "`{}` is not a parameter of this operation; it takes {}",
                            name.escape_debug(),
                            known.join(", ")
                        ),
                    },
                ));
            }
            if !is_utf8_once_decoded(value) {
                return Err(ApiError::bad_parameter(
                    &name,
                    FieldCode::WrongType,
                    format!("`{name}` is not UTF-8 text once percent-decoded"),
                ));
            }
            match pairs.iter_mut().find(|(seen, _)| *seen == name) {
                Some((_, values)) if operation.lists.contains(&name) => {
                    values.push(value);
                    joined = true;
                }
                Some(_) => {
                    return Err(ApiError::bad_parameter(
                        &name,
                        FieldCode::DuplicateField,
                        format!("`{name}` is given more than once; give it once"),
                    ));
                }
                None => pairs.push((name, vec![value])),
            }
        }
        Ok(joined.then(|| {
            pairs
                .iter()
                .map(|(name, values)| {
                    // An empty item stays, to be refused as the comma list's would be.
                    let name: String =
                        url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                    format!("{name}={}", values.join(","))
                })
                .collect::<Vec<_>>()
                .join("&")
        }))
    }
}

/// True when `raw`, percent-decoded, is UTF-8 text.
fn is_utf8_once_decoded(raw: &str) -> bool {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .is_ok()
}

/// What a parameter of `schema` must be, in words ("an integer from 1 to 100"); empty when the
/// schema says nothing a reader needs.
fn expected_value(schema: &serde_json::Value, schemas: &serde_json::Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return expected_value(&schemas[name], schemas);
    }
    if let Some(allowed) = schema["enum"].as_array() {
        let names: Vec<&str> = allowed.iter().filter_map(|v| v.as_str()).collect();
        return format!("one of: {}", names.join(", "));
    }
    // poem-openapi writes bounds as floats (`1.0`); they are whole numbers here.
    let bound = |key: &str| schema[key].as_f64().map(|bound| bound.round() as i64);
    let range = match (bound("minimum"), bound("maximum")) {
        (Some(min), Some(max)) => format!(" from {min} to {max}"),
        (Some(min), None) => format!(" of at least {min}"),
        (None, Some(max)) => format!(" of at most {max}"),
        (None, None) => String::new(),
    };
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => format!("an integer{range}"),
        (Some("boolean"), _) => "true or false".to_owned(),
        (Some("string"), Some("date-time")) => "a date and time (RFC 3339)".to_owned(),
        (Some("string"), Some("date")) => "a date (YYYY-MM-DD)".to_owned(),
        (Some("string"), Some("uuid")) => "a UUID".to_owned(),
        (Some("string"), _) => {
            const NO_NUL: &str = r"^[^\x00]*$";
            const UUID_LIST: &str = r"^[0-9a-fA-F]{8}-";
            let pattern = schema["pattern"].as_str().unwrap_or_default();
            if pattern.starts_with(UUID_LIST) {
                return "comma-separated UUIDs, at most 100".to_owned();
            }
            let length = match (schema["minLength"].as_u64(), schema["maxLength"].as_u64()) {
                (Some(min), Some(max)) if min > 0 => format!("text of {min} to {max} characters"),
                (_, Some(max)) => format!("text of at most {max} characters"),
                (Some(min), None) if min > 0 => format!("text of at least {min} characters"),
                _ => "text".to_owned(),
            };
            match pattern {
                "" => length,
                NO_NUL => format!("{length} without NUL characters"),
                pattern => format!("{length} matching `{pattern}`"),
            }
        }
        (Some("array"), _) => {
            let items = expected_value(&schema["items"], schemas);
            let most = schema["maxItems"]
                .as_u64()
                .map(|max| format!(" of at most {max} items"))
                .unwrap_or_default();
            if items.is_empty() {
                format!("a comma-separated list{most}")
            } else {
                format!("a comma-separated list{most}, each {items}")
            }
        }
        _ => String::new(),
    }
}

/// What the edge knows of the API, built once from the configuration and the document.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// The methods of each path.
    pub allowed: AllowedMethods,
    /// The types of each JSON body.
    pub body_types: BodySchemas,
    /// The path and list parameters of each operation.
    pub parameters: Parameters,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
}

/// Wraps every request: assigns its id, finds the client's address, caps its body and checks
/// its JSON types, and renders errors as problems.
pub async fn around_every_request<E: Endpoint>(
    next: E,
    mut req: Request,
    edge: Edge,
) -> poem::Result<Response> {
    let language = Language::of(&req);
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.is_ascii())
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    if let Some(peer) = req.remote_addr().as_socket_addr().map(|addr| addr.ip()) {
        let client = edge.trusted_proxies.client(peer, req.headers());
        req.extensions_mut().insert(ClientIp(client));
    }
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let path = req.uri().path().to_owned();
    async move {
        let started = std::time::Instant::now();
        let checked = buffer_body(&mut req, edge.max_body_bytes)
            .await
            .and_then(|body| check_body_types(&req, &body, &edge.body_types))
            .and_then(|()| Ok(check_parameters(&mut req, &edge.parameters)?));
        let outcome = match checked {
            Ok(()) => next.call(req).await.map(IntoResponse::into_response),
            Err(error) => Err(error),
        };
        let mut response = match outcome {
            Ok(response) => response,
            Err(error) if super::pages::PATHS.contains(&path.as_str()) => {
                super::pages::error_page(language == Language::ZhCn, error.status())
            }
            Err(error) => ApiError::from_poem(&error).to_response(language),
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        add_security_headers(&path, &mut response);
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read: the connection closes after this answer, and
            // the client is told so, rather than finding a broken pipe on its next request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            if let Some(methods) = edge.allowed.for_path(&path) {
                if let Ok(value) = HeaderValue::from_str(&methods) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
        }
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if response.status().is_server_error() {
            tracing::warn!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request");
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// Refuses two `Authorization` headers, then checks the path and query against the operation
/// (`Parameters::checked`), putting the query it reads in place of the one sent.
fn check_parameters(req: &mut Request, parameters: &Parameters) -> Result<(), ApiError> {
    if req.headers().get_all(header::AUTHORIZATION).iter().count() > 1 {
        return Err(ApiError::bad_parameter(
            "Authorization",
            FieldCode::InvalidHeader,
            "give one Authorization header",
        ));
    }
    let path = req.uri().path();
    let read = parameters.checked(req.method().as_str(), path, req.uri().query())?;
    if let Some(uri) = read.and_then(|path_and_query| path_and_query.parse().ok()) {
        *req.uri_mut() = uri;
    }
    Ok(())
}

/// Wraps the operations (inside the idempotency layer, which stores their answers): a
/// parameter poem-openapi could not read is named as the document names it, with what it must
/// be, in the detail and as a field error (`invalid_path_parameter` or `wrong_type`).
pub async fn with_named_parameters<E: Endpoint>(
    next: E,
    req: Request,
    parameters: Parameters,
) -> poem::Result<Response> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    next.call(req)
        .await
        .map(IntoResponse::into_response)
        .map_err(
            |error| match parameters.parameter_problem(&method, &path, &query, &error) {
                Some(problem) => problem.into(),
                None => error,
            },
        )
}

/// Headers that keep answers out of caches and pages out of frames, on every answer.
///
/// Every answer under `/v1` and every page for a mailed link may carry a session token, a code,
/// a link token or personal data, so none may be stored by a browser or a shared cache
/// (`Cache-Control: no-store`, OWASP ASVS 8.2.1); only the API document and its viewer are
/// cacheable. No answer may be framed (`X-Frame-Options: DENY`, clickjacking), sniffed as another
/// type, or leak its URL, which for link pages holds the token, in a `Referer`. The link pages
/// add their own `Content-Security-Policy` (`api::pages`).
fn add_security_headers(path: &str, response: &mut Response) {
    let headers = response.headers_mut();
    let public_document = path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/");
    if !public_document {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Reads the body into memory, refusing more than `limit` bytes with 413 whether or not the
/// client announced the length.
async fn buffer_body(req: &mut Request, limit: usize) -> poem::Result<Bytes> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let body = req.take_body();
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|error| match error {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
            other => other.into(),
        })?;
    req.set_body(bytes.clone());
    Ok(bytes)
}

/// Refuses a JSON body that does not hold what the document says (`api::body_types`), naming
/// the field.
fn check_body_types(req: &Request, body: &[u8], schemas: &BodySchemas) -> poem::Result<()> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json);
    let Err(problem) = schemas.check(req.method().as_str(), req.uri().path(), body, json) else {
        return Ok(());
    };
    let malformed = |field: String, code: FieldCode, message: String| {
        ApiError::new(ProblemCode::InvalidBody).naming(vec![FieldError {
            field,
            code: code.as_str(),
            message,
        }])
    };
    let body_problem = ApiError::new(ProblemCode::InvalidBody);
    Err(match problem {
        BodyProblem::DuplicateField(field) => {
            let message = format!("`{field}` appears more than once in its object");
            malformed(field, FieldCode::DuplicateField, message)
        }
        BodyProblem::WrongType { field, expected } if field.is_empty() => body_problem
            .with_details(
                format!("the body must be {expected}"),
                format!("请求体必须是 {expected}"),
            ),
        BodyProblem::WrongType { field, expected } => {
            let message = format!("`{field}` must be {expected}");
            malformed(field, FieldCode::WrongType, message)
        }
        BodyProblem::Fields(errors) => ApiError::validation(errors),
        BodyProblem::Missing => body_problem.with_details(
            "the body must be a JSON object",
            "请求体必须是一个 JSON 对象",
        ),
        BodyProblem::Unwanted => body_problem.with_details(
            "the body must be empty: this operation takes no body",
            "本操作不接受请求体，请不要发送",
        ),
        BodyProblem::NotJson { line, column } => body_problem.with_details(
            format!("the body is not valid JSON (line {line}, column {column})"),
            format!("请求体不是有效的 JSON（第 {line} 行第 {column} 列）"),
        ),
    }
    .into())
}

/// Whether a `Content-Type` is one poem-openapi reads as JSON: `application/json` or any
/// `application/<subtype>+json` (`merge-patch+json`, `problem+json`, ...), in any letter case
/// and with any parameters. Every body it reads goes through the checks.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json") && subtype.len() > "+json".len())
}

fn too_large(limit: usize) -> poem::Error {
    ApiError::new(ProblemCode::PayloadTooLarge)
        .with_details(
            format!("a request body has at most {limit} bytes"),
            format!("请求体最多 {limit} 字节"),
        )
        .into()
}

/// Who is asking and from where, for the events a command records: a handler takes
/// `metadata: CommandMetadata` as an argument.
impl<'a> FromRequest<'a> for CommandMetadata {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(command_metadata(req))
    }
}

/// The metadata of a request that is not an OpenAPI operation (the link pages).
pub fn command_metadata(req: &Request) -> CommandMetadata {
    CommandMetadata {
        actor: None,
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        ip: req
            .extensions()
            .get::<ClientIp>()
            .map(|client| client.0.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect()),
        idempotency: req
            .extensions()
            .get::<crate::service::executor::IdempotencyClaim>()
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_network;

    #[test]
    fn every_content_type_poem_reads_as_json_is_json() {
        for json in [
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            " Application/Json ;charset=UTF-8",
            "application/merge-patch+json",
            "application/vnd.api+json",
            "application/problem+JSON",
        ] {
            assert!(super::is_json(json), "{json}");
        }
        for other in [
            "application/jsonx",
            "text/json",
            "application/+json",
            "text/plain",
            "",
        ] {
            assert!(!super::is_json(other), "{other}");
        }
    }

    fn proxies(networks: &[&str]) -> TrustedProxies {
        let networks: Vec<IpNet> = networks
            .iter()
            .map(|network| parse_network(network).unwrap())
            .collect();
        TrustedProxies::new(&networks)
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            proxies(&[]).client(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client wrote a spoofed first hop; the proxies appended the real ones.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "192.0.2.1, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &headers), ip("203.0.113.9"));
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &forwarded(&[])),
            ip("10.0.0.2")
        );
        // Every hop trusted: the farthest one is all that is known.
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &forwarded(&["10.9.9.9, 192.0.2.1"])),
            ip("10.9.9.9")
        );
        // Garbage ends the walk at the last proxy.
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &forwarded(&["203.0.113.9, unknown"])),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_peers_and_hops_are_matched_as_ipv4() {
        let trusted = proxies(&["127.0.0.1"]);
        let headers = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_is_an_address_or_a_range() {
        assert_eq!(
            parse_network("10.0.0.7").unwrap().to_string(),
            "10.0.0.7/32"
        );
        assert_eq!(
            parse_network(" 10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
        assert!(parse_network("proxy.local").is_err());
    }
}
