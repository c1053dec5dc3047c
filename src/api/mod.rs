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
mod pages;
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
    addresses::AddressesApi,
    follows::FollowsApi,
    admin::AdminApi,
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
            addresses::AddressesApi,
            follows::FollowsApi,
            admin::AdminApi,
            users::UsersApi,
            health::HealthApi,
        ),
        "accounts",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "An event-sourced user-account service. Errors are RFC 9457 problem details with a \
         stable `code`; every command answer carries `Accounts-Position`, and every command \
         accepts `Idempotency-Key`.",
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
    body_types::declare_closed_bodies(&mut spec);
    serde_json::to_string_pretty(&spec).unwrap_or_else(|_| operations.to_owned())
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
        .nest("/", api)
        .around(move |next, req| edge::with_named_path_parameters(next, req, parameters.clone()))
        .around(move |next, req| {
            idempotency::with_idempotency(next, req, pool.clone(), secrets.clone(), allowed.clone())
        })
        .data(ctx)
        .around(move |next, req| edge::around_every_request(next, req, edge.clone()))
        .into_endpoint()
}
