//! The HTTP API: poem-openapi operations, one module per resource, and the edge every request
//! passes (request ids, body cap, idempotency keys, problem answers).

mod accounts;
mod addresses;
mod admin;
mod auth;
mod body_types;
mod codes;
mod edge;
mod follows;
mod health;
mod i18n;
pub mod idempotency;
mod me;
mod mfa;
mod pages;
mod passkey_page;
mod personal_data;
pub mod problem;
mod recovery;
mod sessions;
mod spec_index;
mod users;
mod views;

use crate::config::Config;
use crate::service::Context;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};
use poem_openapi::{OpenApiService, Tags};

/// The tags grouping operations in the document.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-up.
    Accounts,
    /// Sign-in and sessions.
    Sessions,
    /// One-time codes.
    Codes,
    /// Email verification, password reset, email change.
    Recovery,
    /// My account.
    Me,
    /// Second factors: TOTP (RFC 6238) and recovery codes.
    SecondFactors,
    /// Shipping addresses.
    Addresses,
    /// Follows and follow groups.
    Follows,
    /// Public profiles.
    Users,
    /// Administration.
    Admin,
    /// Probes and documents.
    Operations,
}

type Apis = (
    accounts::AccountsApi,
    sessions::SessionsApi,
    codes::CodesApi,
    recovery::RecoveryApi,
    recovery::PhoneApi,
    me::MeApi,
    mfa::MfaApi,
    addresses::AddressesApi,
    follows::FollowsApi,
    admin::AdminApi,
    personal_data::PersonalDataApi,
    users::UsersApi,
    health::HealthApi,
);

fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            accounts::AccountsApi,
            sessions::SessionsApi,
            codes::CodesApi,
            recovery::RecoveryApi,
            recovery::PhoneApi,
            me::MeApi,
            mfa::MfaApi,
            addresses::AddressesApi,
            follows::FollowsApi,
            admin::AdminApi,
            personal_data::PersonalDataApi,
            users::UsersApi,
            health::HealthApi,
        ),
        "accounts",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "An event-sourced user-account service. Errors are RFC 9457 problem details with a \
         stable `code`; every command answer carries `Accounts-Position`, and every command \
         accepts `Idempotency-Key`.\n\n\
         Second factors: enrol TOTP with `POST /v1/me/mfa/totp` and confirm it with a first code \
         (`POST /v1/me/mfa/totp/confirm`, which answers 10 recovery codes once), or register a \
         passkey (WebAuthn: `POST /v1/me/passkeys/register/start`, `navigator.credentials.\
         create()` with its options, then `/finish` with the credential). From then a sign-in's \
         first factor answers `200 {mfa_required, challenge, methods, expires_at, \
         passkey_options}`; `POST /v1/sessions/mfa` with the challenge and a TOTP code, a \
         recovery code or a passkey assertion starts the session (`aal2`). A discoverable \
         passkey signs in alone: `POST /v1/sessions/passkey/start`, `navigator.credentials.\
         get()`, `POST /v1/sessions/passkey/finish` (`aal2`). WebAuthn options and credentials \
         are JSON with binary fields in base64url; `GET /passkeys` is a page doing every \
         ceremony. Changing the password, email or phone, removing a factor, new \
         recovery codes and deleting the account need the second factor (`mfa_code`) unless \
         the session proved it in the last 10 minutes: `403 mfa_step_up_required`.",
    )
}

/// The OpenAPI document, as checked in at `openapi/openapi.json`: the operations' own
/// declarations plus what the edge layers add to every command (`Idempotency-Key`).
pub fn openapi_json() -> String {
    document(&openapi_service().spec())
}

fn document(operations: &str) -> String {
    let Ok(mut spec) = serde_json::from_str::<serde_json::Value>(operations) else {
        return operations.to_owned();
    };
    idempotency::declare_header(&mut spec);
    plain_references(&mut spec);
    standard_formats(&mut spec);
    declare_event_types(&mut spec);
    body_types::declare_closed_bodies(&mut spec);
    problem::catalog::declare_codes(&mut spec);
    problem::declare_everywhere(&mut spec);
    serde_json::to_string_pretty(&spec).unwrap_or_else(|_| operations.to_owned())
}

/// Declares the names a `types` query parameter (a list of event types) takes, as the enum of
/// its items: the handlers refuse any other (`400 unknown_event_type`), and generated clients
/// get a type for them. The list has at least one name (`minItems`), since an empty one would
/// be sent as `types=`, which reads as the one empty name: leaving the parameter out is how a
/// query asks for every type.
fn declare_event_types(spec: &mut serde_json::Value) {
    let names: Vec<serde_json::Value> = crate::events::event_type_names()
        .iter()
        .map(|name| name.as_str().into())
        .collect();
    for (_, operation) in spec_index::operations_mut(spec) {
        let parameters = operation
            .get_mut("parameters")
            .and_then(|parameters| parameters.as_array_mut());
        for parameter in parameters.into_iter().flatten() {
            if parameter["in"] == "query"
                && parameter["name"] == "types"
                && parameter["schema"]["items"]["type"] == "string"
            {
                parameter["schema"]["items"]["enum"] = serde_json::Value::Array(names.clone());
                if let Some(schema) = parameter["schema"].as_object_mut() {
                    schema.remove("default");
                    schema.insert("minItems".to_owned(), 1.into());
                }
            }
        }
    }
}

/// Names poem-openapi's `naive-date` format (a `chrono::NaiveDate`, `YYYY-MM-DD`) by its
/// standard name, `date` (RFC 3339 `full-date`), which generators turn into a date type.
fn standard_formats(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            if object
                .get("format")
                .is_some_and(|format| format == "naive-date")
            {
                object.insert("format".to_owned(), "date".into());
            }
            object.values_mut().for_each(standard_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(standard_formats),
        _ => {}
    }
}

/// Replaces the wrapper poem-openapi puts around a described field of a named type,
/// `{description, allOf: [{$ref}, {description}]}`, with the reference itself beside its
/// description and default: `{$ref, description}`. Generators refuse the wrapper around
/// anything but an object (openapi-python-client: "Cannot take allOf a non-object", dropping
/// the operations that use it), and a reference is what every generator reads. OpenAPI 3.0
/// tools ignore the siblings of a `$ref`; documentation viewers show them.
fn plain_references(value: &mut serde_json::Value) {
    use serde_json::Value;
    const WRAPPER_KEYS: [&str; 2] = ["description", "default"];
    match value {
        Value::Object(object) => {
            let reference = match object.get("allOf").and_then(Value::as_array) {
                Some(parts) => parts.split_first().and_then(|(first, rest)| {
                    let only_reference = first.as_object().is_some_and(|first| {
                        first.len() == 1 && first.get("$ref").is_some_and(Value::is_string)
                    });
                    let rest_describes = rest.iter().all(|part| {
                        part.as_object().is_some_and(|part| {
                            part.keys().all(|key| WRAPPER_KEYS.contains(&key.as_str()))
                        })
                    });
                    let wrapper_describes = object
                        .keys()
                        .all(|key| key == "allOf" || WRAPPER_KEYS.contains(&key.as_str()));
                    (only_reference && rest_describes && wrapper_describes)
                        .then(|| first["$ref"].clone())
                }),
                None => None,
            };
            if let Some(reference) = reference {
                let parts = object.remove("allOf").unwrap_or_default();
                for part in parts.as_array().into_iter().flatten().skip(1) {
                    for (key, value) in part.as_object().into_iter().flatten() {
                        object.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                }
                object.insert("$ref".to_owned(), reference);
                return;
            }
            object.values_mut().for_each(plain_references);
        }
        Value::Array(items) => items.iter_mut().for_each(plain_references),
        _ => {}
    }
}

/// The whole HTTP application.
pub fn app(ctx: Context, config: &Config) -> impl Endpoint + use<> {
    let api = openapi_service();
    let operations = api.spec();
    let document = document(&operations);
    let spec: serde_json::Value = serde_json::from_str(&document).unwrap_or_default();
    let allowed = edge::AllowedMethods::from_spec(&spec);
    let parameters = edge::Parameters::from_spec(&spec);
    let edge = edge::Edge {
        max_body_bytes: config.max_body_bytes,
        allowed: allowed.clone(),
        body_types: body_types::BodySchemas::from_spec(&spec),
        parameters: parameters.clone(),
        trusted_proxies: edge::TrustedProxies::new(&config.trusted_proxies),
    };
    // The Scalar page embeds the document verbatim; it gets the whole one.
    let docs = poem::web::Html(api.scalar_html().replace(&operations, &document));
    let spec_endpoint = poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document.clone())
    });
    let pool = ctx.pool.clone();
    let secrets = ctx.secrets.clone();
    Route::new()
        .nest(
            "/docs",
            Route::new().at("/", poem::endpoint::make_sync(move |_| docs.clone())),
        )
        .at("/openapi.json", spec_endpoint)
        .at(
            "/verify-email",
            poem::get(pages::verify_email_page).post(pages::verify_email_submit),
        )
        .at(
            "/reset-password",
            poem::get(pages::reset_password_page).post(pages::reset_password_submit),
        )
        .at("/passkeys", poem::get(passkey_page::passkeys_page))
        .nest("/", api)
        .around(move |next, req| edge::with_named_parameters(next, req, parameters.clone()))
        .around(move |next, req| {
            idempotency::with_idempotency(next, req, pool.clone(), secrets.clone(), allowed.clone())
        })
        .data(ctx)
        .around(move |next, req| edge::around_every_request(next, req, edge.clone()))
        .into_endpoint()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_described_reference_is_the_reference_beside_its_description() {
        let mut spec = json!({"properties": {
            "role": {"description": "Role.", "allOf": [
                {"$ref": "#/components/schemas/RoleView"}, {"description": "Role."}]},
            "order_by": {"allOf": [
                {"$ref": "#/components/schemas/OrderBy"}, {"default": "-created_at"}]},
            "both": {"allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
            "items": [{"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": true}]
        }});
        super::plain_references(&mut spec);
        assert_eq!(
            spec["properties"]["role"],
            json!({"description": "Role.", "$ref": "#/components/schemas/RoleView"})
        );
        assert_eq!(
            spec["properties"]["order_by"],
            json!({"default": "-created_at", "$ref": "#/components/schemas/OrderBy"})
        );
        // A real composition, or a wrapper that says more than a description, stays.
        assert_eq!(
            spec["properties"]["both"]["allOf"].as_array().map(Vec::len),
            Some(2)
        );
        assert!(spec["properties"]["items"][0].get("allOf").is_some());
    }
}
