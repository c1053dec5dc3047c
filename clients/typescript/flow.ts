// Every main flow through openapi-fetch with the types openapi-typescript generated from
// openapi/openapi.json, unedited, against a running service (scripts/generated-clients).
// Environment: ACCOUNTS_URL, and ACCOUNTS_OWNER_EMAIL / ACCOUNTS_OWNER_PASSWORD of an owner.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

type Problem = components["schemas"]["Problem"];

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const check = (condition: boolean, what: string, detail?: unknown): void => {
  if (!condition) throw new Error(`${what}: ${JSON.stringify(detail)}`);
};
const client = createClient<paths>({ baseUrl: env("ACCOUNTS_URL") });
const password = "correct horse battery staple";
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function signIn(email: string, secret: string): Promise<string> {
  const { data, error, response } = await client.POST("/v1/sessions", {
    body: { email, password: secret },
  });
  check(response.status === 201 && data !== undefined && "token" in data, "sign-in", error);
  return data && "token" in data ? data.token : "";
}

async function main(): Promise<void> {
  const emails = [0, 1].map(() => `ts-${crypto.randomUUID()}@example.com`);
  const ids: string[] = [];
  for (const email of emails) {
    const { data, error } = await client.POST("/v1/accounts", { body: { email, password } });
    check(data !== undefined, "sign-up", error);
    if (data) ids.push(data.account.id);
  }
  const token = await signIn(emails[0], password);

  const me = await client.GET("/v1/me", { headers: bearer(token) });
  check(me.data?.email === emails[0] && me.data.id === ids[0], "get me", me.error);
  const changed = await client.PATCH("/v1/me", {
    headers: bearer(token),
    body: { display_name: "TS Client", gender: "female" },
  });
  check(changed.data?.display_name === "TS Client" && changed.data.gender === "female", "update me", changed.error);

  const book = await client.POST("/v1/me/addresses", {
    headers: bearer(token),
    body: { receiver: "李四", receiver_phone: "13900139000", address: "滨江区 2 号", postcode: "310051", tag: "work" },
  });
  check(book.data?.[0]?.receiver === "李四" && book.data[0].is_default, "add an address", book.error);

  const followed = await client.PUT("/v1/me/following/{user_id}", {
    headers: bearer(token),
    params: { path: { user_id: ids[1] } },
    body: {},
  });
  check(followed.response.ok, "follow", followed.error);
  const position = Number(followed.response.headers.get("accounts-position"));

  const owner = await signIn(env("ACCOUNTS_OWNER_EMAIL"), env("ACCOUNTS_OWNER_PASSWORD"));
  const page = await client.GET("/v1/admin/users", {
    headers: bearer(owner),
    params: { query: { fields: "id,email", include_total: true, q: emails[0], min_position: position } },
  });
  check(page.data?.total === 1 && page.data.items[0]?.email === emails[0], "admin listing", page.error);
  check(page.data?.items[0]?.display_name === undefined, "admin listing fields", page.data);

  const history = await client.GET("/v1/me/events", {
    headers: bearer(token),
    params: { query: { types: ["ProfileUpdated", "AccountRegistered"] } },
  });
  check(history.data?.events.length === 2, "my history by two types", history.data ?? history.error);

  const wrong = await client.POST("/v1/sessions", { body: { email: emails[0], password: `wrong ${password}` } });
  const problem: Problem | undefined = wrong.error;
  check(wrong.response.status === 401 && problem?.code === "invalid_credentials", "a wrong password", problem);
  const refused = await client.PATCH("/v1/me", { headers: bearer(token), body: { display_name: "x".repeat(200) } });
  const invalid: Problem | undefined = refused.error;
  check(invalid?.status === 422 && invalid.errors?.[0]?.field === "display_name", "an invalid field", invalid);
  console.log("typescript client: every flow passed");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
