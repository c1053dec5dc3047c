// The passkey page's script: a reference for front ends of how the JSON of the API maps to
// the browser's WebAuthn calls (binary fields travel in base64url).
"use strict";
const $ = (id) => document.getElementById(id);
const decode = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))
    .buffer;
const encode = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
let token = null;

async function api(path, body, bearer) {
  const headers = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const answer = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const json = answer.status === 204 ? null : await answer.json();
  if (!answer.ok) throw new Error(json && json.code ? json.code : String(answer.status));
  return json;
}

function creationOptions(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = decode(publicKey.challenge);
  publicKey.user.id = decode(publicKey.user.id);
  for (const credential of publicKey.excludeCredentials || []) credential.id = decode(credential.id);
  return { publicKey };
}

function requestOptions(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = decode(publicKey.challenge);
  for (const credential of publicKey.allowCredentials || []) credential.id = decode(credential.id);
  return { publicKey };
}

function credentialJson(credential) {
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: { clientDataJSON: encode(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = encode(response.attestationObject);
    if (response.getTransports) json.response.transports = response.getTransports();
  } else {
    json.response.authenticatorData = encode(response.authenticatorData);
    json.response.signature = encode(response.signature);
    if (response.userHandle) json.response.userHandle = encode(response.userHandle);
  }
  return json;
}

function show(text, outcome) {
  $("status").textContent = text;
  $("status").dataset.outcome = outcome;
}

async function run(action) {
  try {
    await action();
  } catch (error) {
    show(`Error: ${error.message}`, "error");
  }
}

$("sign-in").addEventListener("click", () =>
  run(async () => {
    let session = await api("/v1/sessions", { email: $("email").value, password: $("password").value });
    if (session.mfa_required) {
      const assertion = await navigator.credentials.get(requestOptions(session.passkey_options));
      session = await api("/v1/sessions/mfa", {
        challenge: session.challenge,
        passkey_assertion: credentialJson(assertion),
      });
      token = session.token;
      show(`Signed in with the password and a passkey: ${session.account.id}`, "password+passkey");
      return;
    }
    token = session.token;
    show(`Signed in with the password: ${session.account.id}`, "password");
  }),
);

$("add").addEventListener("click", () =>
  run(async () => {
    const started = await api("/v1/me/passkeys/register/start", { password: $("password").value }, token);
    const credential = await navigator.credentials.create(creationOptions(started.options));
    const added = await api(
      "/v1/me/passkeys/register/finish",
      { ceremony: started.ceremony, name: $("name").value, credential: credentialJson(credential) },
      token,
    );
    show(`Passkey added: ${added.passkey.name}`, "added");
  }),
);

$("passkey").addEventListener("click", () =>
  run(async () => {
    const started = await api("/v1/sessions/passkey/start", {});
    const assertion = await navigator.credentials.get(requestOptions(started.options));
    const session = await api("/v1/sessions/passkey/finish", {
      ceremony: started.ceremony,
      credential: credentialJson(assertion),
    });
    token = session.token;
    show(`Signed in with a passkey: ${session.account.id}`, "passkey");
  }),
);
