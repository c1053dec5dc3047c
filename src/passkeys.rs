//! Passkeys: the WebAuthn Level 2 ceremonies (registration, assertion, discoverable
//! assertion) through `webauthn-rs`, as the relying party configured for the service (its
//! RP ID and allowed origins). Every ceremony requires user verification, so a passkey proves
//! possession and a PIN or biometric at once (NIST SP 800-63B multi-factor cryptographic
//! authenticator). A ceremony's server-side state is kept as JSON between its start and
//! finish, and what a finished ceremony proves is handed to the account as a
//! [`SecondFactor::Passkey`] or a [`PasskeyCredential`].

use crate::domain::account::{PasskeyCredential, RegisteredPasskey, SecondFactor};
use base64::Engine as _;
use serde_json::Value;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, Webauthn, WebauthnBuilder,
};
pub use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
use webauthn_rs_proto::ResidentKeyRequirement;

/// The relying party: verifies ceremonies for one RP ID and its origins.
pub struct Passkeys {
    webauthn: Webauthn,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys").finish_non_exhaustive()
    }
}

/// Why a ceremony's answer was refused: the credential does not verify (wrong signature,
/// challenge, origin or RP ID, no user verification, another user's handle).
#[derive(Debug, thiserror::Error)]
#[error("the WebAuthn credential does not verify: {0}")]
pub struct CeremonyRefused(pub String);

/// Why a client's JSON is no WebAuthn credential at all: not of the structure, not of type
/// `public-key`, an `id` that is not its `rawId`, a credential id empty or longer than
/// `MAX_CREDENTIAL_ID_BYTES`, or client data saying it came from a cross-origin frame.
#[derive(Debug, thiserror::Error)]
#[error("not a WebAuthn credential: {0}")]
pub struct Malformed(pub String);

/// The longest credential id taken, in bytes (WebAuthn Level 3 §7.1 step 23: RPs refuse
/// longer ones).
pub const MAX_CREDENTIAL_ID_BYTES: usize = 1023;

/// Options for the client's `navigator.credentials.create()` or `.get()` (the JSON
/// `webauthn-rs` gives, `{publicKey: {...}}` with base64url binary fields), and the state its
/// finish needs.
pub struct Ceremony {
    /// For the client.
    pub options: Value,
    /// For the server, until the finish.
    pub state: Value,
}

impl Ceremony {
    /// `webauthn-rs`'s options and state as JSON.
    fn of(options: &impl serde::Serialize, state: &impl serde::Serialize) -> anyhow::Result<Self> {
        Ok(Self {
            options: serde_json::to_value(options)?,
            state: serde_json::to_value(state)?,
        })
    }
}

/// A credential id as the account keeps it: base64url without padding.
pub fn credential_id_text(raw: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

impl Passkeys {
    /// The relying party `rp_id` (a registrable domain, WebAuthn §5.1.2) with `rp_name`, taking
    /// ceremonies from `origins` (each one of `rp_id` or a subdomain; any port when `rp_id` is
    /// `localhost`, for development).
    pub fn new(rp_id: &str, origins: &[Url], rp_name: &str) -> anyhow::Result<Self> {
        let (first, rest) = origins
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("WebAuthn needs at least one origin"))?;
        let mut builder = WebauthnBuilder::new(rp_id, first)
            .map_err(|error| anyhow::anyhow!("WebAuthn relying party {rp_id}: {error}"))?
            .rp_name(rp_name)
            .allow_any_port(rp_id == "localhost");
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|error| anyhow::anyhow!("WebAuthn relying party {rp_id}: {error}"))?;
        Ok(Self { webauthn })
    }

    /// Starts registering a passkey for the account `account_id` (its WebAuthn user handle),
    /// shown to the user as `user_name`, excluding the credentials it has. The authenticator
    /// is asked for a discoverable credential (`residentKey: preferred`) so that it can sign
    /// in alone; one that cannot keep it is still a second factor.
    pub fn start_registration(
        &self,
        account_id: Uuid,
        user_name: &str,
        existing: &[RegisteredPasskey],
    ) -> anyhow::Result<Ceremony> {
        let exclude = existing
            .iter()
            .filter_map(|passkey| credential(passkey).ok())
            .map(|passkey| passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(account_id, user_name, user_name, Some(exclude))
            .map_err(|error| anyhow::anyhow!("WebAuthn registration options: {error}"))?;
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
        }
        Ceremony::of(&options, &state)
    }

    /// Finishes a registration with the client's credential (shaped by [`registration`]): its
    /// id (base64url) and the credential to keep.
    pub fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: Value,
    ) -> Result<(String, PasskeyCredential), CeremonyRefused> {
        let state: PasskeyRegistration = serde_json::from_value(state)
            .map_err(|error| CeremonyRefused(format!("registration state: {error}")))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(response, &state)
            .map_err(|error| CeremonyRefused(error.to_string()))?;
        // The id the authenticator data attests is the credential's: it must be the one the
        // client named (`rawId`), bounds and all.
        if passkey.cred_id().as_ref() != response.raw_id.as_ref() {
            return Err(CeremonyRefused(
                "the attested credential id is not rawId".to_owned(),
            ));
        }
        let id = credential_id_text(passkey.cred_id());
        let credential = serde_json::to_value(&passkey)
            .map_err(|error| CeremonyRefused(format!("credential: {error}")))?;
        Ok((id, PasskeyCredential(credential)))
    }

    /// Starts an assertion by one of `passkeys` (a second factor, or a step-up).
    pub fn start_assertion(&self, passkeys: &[RegisteredPasskey]) -> anyhow::Result<Ceremony> {
        let credentials = passkeys
            .iter()
            .map(credential)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&credentials)
            .map_err(|error| anyhow::anyhow!("WebAuthn assertion options: {error}"))?;
        Ceremony::of(&options, &state)
    }

    /// Finishes an assertion (shaped by [`assertion`]) started by [`Self::start_assertion`] for
    /// the account
    /// `account_id`: the factor it proves, which the account still has to recognise. A user
    /// handle, when the authenticator sends one, must be the account's (WebAuthn §7.2 step 6).
    pub fn finish_assertion(
        &self,
        response: &PublicKeyCredential,
        state: Value,
        account_id: Uuid,
    ) -> Result<SecondFactor, CeremonyRefused> {
        if response
            .get_user_unique_id()
            .is_some_and(|handle| handle != account_id.as_bytes())
        {
            return Err(CeremonyRefused(
                "the user handle is another user's".to_owned(),
            ));
        }
        let state: PasskeyAuthentication = serde_json::from_value(state)
            .map_err(|error| CeremonyRefused(format!("assertion state: {error}")))?;
        let result = self
            .webauthn
            .finish_passkey_authentication(response, &state)
            .map_err(|error| CeremonyRefused(error.to_string()))?;
        verified(&result)
    }

    /// Starts a discoverable assertion: any passkey the authenticator holds for the RP ID
    /// (passwordless sign-in, WebAuthn conditional mediation).
    pub fn start_discoverable(&self) -> anyhow::Result<Ceremony> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|error| anyhow::anyhow!("WebAuthn discoverable options: {error}"))?;
        Ceremony::of(&options, &state)
    }

    /// The account (user handle) and credential id a discoverable assertion names, before it
    /// is verified.
    pub fn identify(
        &self,
        response: &PublicKeyCredential,
    ) -> Result<(Uuid, String), CeremonyRefused> {
        let (account_id, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(response)
            .map_err(|error| CeremonyRefused(error.to_string()))?;
        Ok((account_id, credential_id_text(credential_id)))
    }

    /// Finishes a discoverable assertion against `passkey`, the account's credential it named.
    pub fn finish_discoverable(
        &self,
        response: &PublicKeyCredential,
        state: Value,
        passkey: &RegisteredPasskey,
    ) -> Result<SecondFactor, CeremonyRefused> {
        let state: DiscoverableAuthentication = serde_json::from_value(state)
            .map_err(|error| CeremonyRefused(format!("assertion state: {error}")))?;
        let key = DiscoverableKey::from(
            &credential(passkey).map_err(|error| CeremonyRefused(error.to_string()))?,
        );
        let result = self
            .webauthn
            .finish_discoverable_authentication(response, state, &[key])
            .map_err(|error| CeremonyRefused(error.to_string()))?;
        verified(&result)
    }
}

/// What a registration's and an assertion's JSON share, checked for shape.
fn check_shape(
    id: &str,
    raw_id: &[u8],
    type_: &str,
    client_data_json: &[u8],
) -> Result<(), Malformed> {
    if type_ != "public-key" {
        return Err(Malformed(format!("type {type_:?} is not \"public-key\"")));
    }
    if raw_id.is_empty() || raw_id.len() > MAX_CREDENTIAL_ID_BYTES {
        return Err(Malformed(format!(
            "a credential id is 1 to {MAX_CREDENTIAL_ID_BYTES} bytes"
        )));
    }
    if id != credential_id_text(raw_id) {
        return Err(Malformed("id is not rawId in base64url".to_owned()));
    }
    // Client data of the structure WebAuthn §5.8.1 gives, once per member; a ceremony run in
    // a frame of another site is not one this service's pages began.
    let text = std::str::from_utf8(client_data_json)
        .map_err(|_| Malformed("clientDataJSON is not UTF-8".to_owned()))?;
    // Read whole first: every string decodes (a lone surrogate escape does not), also in
    // members the structure below skips.
    serde_json::from_str::<Value>(text)
        .map_err(|error| Malformed(format!("clientDataJSON: {error}")))?;
    let client_data: ClientData = serde_json::from_str(text)
        .map_err(|error| Malformed(format!("clientDataJSON: {error}")))?;
    let same_origin = matches!(client_data.cross_origin, None | Some(Value::Bool(false)));
    if !same_origin || client_data.top_origin.is_some() {
        return Err(Malformed(
            "clientDataJSON says crossOrigin (or not as a boolean) or topOrigin".to_owned(),
        ));
    }
    Ok(())
}

/// A member present, even as `null` (which `Option` alone would read as absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// The members of `CollectedClientData` (WebAuthn §5.8.1) checked for shape here; the rest
/// (type, challenge, origin) `webauthn-rs` checks against the ceremony.
#[derive(serde::Deserialize)]
#[allow(dead_code, reason = "read for their type only")]
struct ClientData {
    #[serde(rename = "type")]
    type_: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default, deserialize_with = "present")]
    cross_origin: Option<Value>,
    #[serde(rename = "topOrigin", default, deserialize_with = "present")]
    top_origin: Option<Value>,
}

/// The shortest authenticator data: RP ID hash (32 bytes), flags (1), signature counter (4).
const MIN_AUTHENTICATOR_DATA_BYTES: usize = 37;

/// `response` as a registration's credential (`navigator.credentials.create()`), by shape.
pub fn registration(response: &Value) -> Result<RegisterPublicKeyCredential, Malformed> {
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(response.clone()).map_err(|error| Malformed(error.to_string()))?;
    check_shape(
        &credential.id,
        credential.raw_id.as_ref(),
        &credential.type_,
        credential.response.client_data_json.as_ref(),
    )?;
    Ok(credential)
}

/// `response` as an assertion (`navigator.credentials.get()`), by shape.
pub fn assertion(response: &Value) -> Result<PublicKeyCredential, Malformed> {
    let credential: PublicKeyCredential =
        serde_json::from_value(response.clone()).map_err(|error| Malformed(error.to_string()))?;
    check_shape(
        &credential.id,
        credential.raw_id.as_ref(),
        &credential.type_,
        credential.response.client_data_json.as_ref(),
    )?;
    if credential.response.authenticator_data.len() < MIN_AUTHENTICATOR_DATA_BYTES {
        return Err(Malformed("authenticatorData is too short".to_owned()));
    }
    if credential.response.signature.is_empty() {
        return Err(Malformed("the signature is empty".to_owned()));
    }
    Ok(credential)
}

/// The `webauthn-rs` credential an account keeps.
fn credential(passkey: &RegisteredPasskey) -> anyhow::Result<Passkey> {
    Ok(serde_json::from_value(passkey.credential.0.clone())?)
}

/// The factor a verified assertion proves: only with user verification (which the ceremonies
/// require, checked again here).
fn verified(
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<SecondFactor, CeremonyRefused> {
    if !result.user_verified() {
        return Err(CeremonyRefused("the user was not verified".to_owned()));
    }
    Ok(SecondFactor::Passkey {
        credential_id: credential_id_text(result.cred_id()),
        sign_count: result.counter(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        credential_id_text(bytes)
    }

    /// An assertion's JSON with this client data and authenticator data length.
    fn assertion_with(client_data: &str, authenticator_data: usize) -> Value {
        json!({
            "id": b64(b"credential"),
            "rawId": b64(b"credential"),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&vec![0; authenticator_data]),
                "clientDataJSON": b64(client_data.as_bytes()),
                "signature": b64(b"signature"),
            },
            "extensions": {},
        })
    }

    const CLIENT_DATA: &str =
        r#"{"type":"webauthn.get","challenge":"abc","origin":"https://accounts.test"}"#;

    #[test]
    fn an_assertion_of_the_structure_passes_its_shape_check() {
        assert!(assertion(&assertion_with(CLIENT_DATA, 37)).is_ok());
        let same_origin = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","crossOrigin":false}"#;
        assert!(assertion(&assertion_with(same_origin, 37)).is_ok());
    }

    #[test]
    fn what_is_no_assertion_is_malformed() {
        let cross = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","crossOrigin":true}"#;
        let framed = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","topOrigin":"https://evil.test"}"#;
        let twice = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","crossOrigin":true,"crossOrigin":false}"#;
        let text = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","crossOrigin":"true"}"#;
        let null_cross = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","crossOrigin":null}"#;
        let null_top = r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","topOrigin":null}"#;
        for client_data in [
            cross, framed, twice, text, null_cross, null_top, "[1]", "{}", "not json",
        ] {
            assert!(
                assertion(&assertion_with(client_data, 37)).is_err(),
                "{client_data}"
            );
        }
        assert!(
            assertion(&assertion_with(CLIENT_DATA, 10)).is_err(),
            "short data"
        );
        let mut latin1 = assertion_with(CLIENT_DATA, 37);
        let mut bytes = CLIENT_DATA.trim_end_matches('}').as_bytes().to_vec();
        bytes.extend_from_slice(b",\"z\":\"\xff\"}");
        latin1["response"]["clientDataJSON"] = json!(b64(&bytes));
        assert!(assertion(&latin1).is_err(), "not UTF-8");
        let surrogate =
            r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.test","z":"\ud800"}"#;
        assert!(
            assertion(&assertion_with(surrogate, 37)).is_err(),
            "lone surrogate"
        );
        let mut wrong_type = assertion_with(CLIENT_DATA, 37);
        wrong_type["type"] = json!("Public-Key");
        let mut other_id = assertion_with(CLIENT_DATA, 37);
        other_id["id"] = json!(b64(b"another"));
        let mut empty = assertion_with(CLIENT_DATA, 37);
        empty["id"] = json!("");
        empty["rawId"] = json!("");
        let mut long = assertion_with(CLIENT_DATA, 37);
        let id = b64(&[7; MAX_CREDENTIAL_ID_BYTES + 1]);
        long["id"] = json!(id);
        long["rawId"] = json!(id);
        let mut unsigned = assertion_with(CLIENT_DATA, 37);
        unsigned["response"]["signature"] = json!("");
        for malformed in [wrong_type, other_id, empty, long, unsigned] {
            assert!(assertion(&malformed).is_err(), "{malformed}");
        }
        let mut longest = assertion_with(CLIENT_DATA, 37);
        let id = b64(&[7; MAX_CREDENTIAL_ID_BYTES]);
        longest["id"] = json!(id);
        longest["rawId"] = json!(id);
        assert!(assertion(&longest).is_ok());
    }
}
