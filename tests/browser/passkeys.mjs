// Every passkey ceremony in a real browser: Debian's Chromium with a virtual WebAuthn
// authenticator (DevTools WebAuthn domain: CTAP2, internal, resident keys, user verification)
// on the service's /passkeys page. Signs in with the password, adds a passkey (discoverable),
// signs in with the password and the passkey as its second factor, then with the passkey
// alone. Prints one JSON line of what it saw; exits non-zero on any failure.
//
// node tests/browser/passkeys.mjs <page URL> <email> <password>
import { chromium } from "playwright-core";

const [url, email, password] = process.argv.slice(2);
if (!url || !email || !password) {
  console.error("usage: passkeys.mjs <page URL> <email> <password>");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const seen = {};
try {
  const page = await browser.newPage();
  const devtools = await page.context().newCDPSession(page);
  await devtools.send("WebAuthn.enable");
  const { authenticatorId } = await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(url);
  const step = async (button, outcome) => {
    await page.click(`#${button}`);
    await page.waitForSelector(`#status[data-outcome="${outcome}"], #status[data-outcome="error"]`);
    const status = await page.textContent("#status");
    const got = await page.getAttribute("#status", "data-outcome");
    if (got !== outcome) throw new Error(`${button}: expected ${outcome}, got ${status}`);
    return status;
  };
  await page.fill("#email", email);
  await page.fill("#password", password);
  seen.password = await step("sign-in", "password");
  await page.fill("#name", "Virtual authenticator");
  seen.added = await step("add", "added");
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  seen.credentials = credentials.length;
  seen.resident = credentials.every((credential) => credential.isResidentCredential);
  await page.evaluate(() => document.getElementById("status").removeAttribute("data-outcome"));
  seen.second_factor = await step("sign-in", "password+passkey");
  await page.evaluate(() => document.getElementById("status").removeAttribute("data-outcome"));
  seen.passwordless = await step("passkey", "passkey");
  console.log(JSON.stringify(seen));
} catch (error) {
  console.error(`passkeys.mjs: ${error.message}; seen so far: ${JSON.stringify(seen)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
