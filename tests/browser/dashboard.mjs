// Clicks through the edge's dashboard in headless Chromium, by the guides' own words:
//   node dashboard.mjs API_URL API_KEY SCREENSHOT_DIR CA_PEM
// Every page is screenshot, checked at 360 px for sideways scrolling, and scanned by axe-core
// (no serious or critical violation). CA_PEM is a CA certificate to upload.
// Protocol with the Rust test (tests/e2e/dashboard.rs) on stdio: each line printed is a step
// done (some with a value); the test answers on stdin where it must act between steps.
import { chromium } from "playwright-core";
import readline from "node:readline";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { createRequire } from "node:module";

const [apiUrl, apiKey, shots, caPem] = process.argv.slice(2);
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const fail = (msg) => { console.error(`dashboard.mjs: ${msg}`); process.exit(1); };
setTimeout(() => fail("timed out"), 120_000).unref();
fs.mkdirSync(shots, { recursive: true });
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const waitFor = async (word) => {
  const { value } = await lines.next();
  if (value?.trim() !== word) fail(`expected ${word} from the test, got ${value}`);
};
const say = (...words) => console.log(words.join(" "));

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-dashboard-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] ?? await context.newPage();
page.on("pageerror", (e) => fail(`script error on ${page.url()}: ${e}`));

// axe-core run in the page (evaluated through the DevTools protocol, so the dashboard's CSP
// stays as it is): no serious or critical violation.
const axe = async (name) => {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run()).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
  if (found.length) fail(`${name}: accessibility: ${found.join("; ")}`);
};

// A full-page screenshot, one 360 px wide that must not scroll sideways, and the axe scan.
const shot = async (name) => {
  await axe(name);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: path.join(shots, `${name}-360.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  if (wide > 360) fail(`${name} scrolls sideways at 360 px (${wide} px wide)`);
};
const signIn = async (key) => {
  await page.goto(`${apiUrl}/`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Domains" }).waitFor();
};
const atSignIn = async (what) => {
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10_000 })
    .catch(() => fail(`${what}: not at the sign-in page but ${page.url()}`));
};

try {
  // Without a session every page leads to sign-in.
  for (const p of ["/dashboard/domains", "/dashboard/authtokens", "/dashboard/authtokens/new",
                   "/dashboard/bot-users", "/dashboard/api-keys", "/dashboard/agent-ingresses",
                   "/dashboard/certificate-authorities", "/dashboard/tls-certificates",
                   "/dashboard/live", "/dashboard/edge"]) {
    await page.goto(`${apiUrl}${p}`);
    await atSignIn(p);
  }
  await shot("sign-in");
  await signIn(apiKey);
  say("SIGNED_IN");

  // Domains: reserve the wildcard, open its panel, DNS Targets, Check Status.
  await page.getByRole("link", { name: "Domains" }).click();
  await page.getByLabel("Domain", { exact: true }).fill("*.customer1.example.com");
  await page.getByRole("button", { name: "Reserve Domain" }).click();
  await page.getByRole("link", { name: "Domains" }).click();
  await page.getByRole("link", { name: "*.customer1.example.com" }).click();
  await page.getByText("DNS Targets").waitFor();
  await page.getByText("2 targets").click();
  await page.getByRole("button", { name: "Check Status" }).click();
  await page.getByText("DNS records are not configured correctly yet").waitFor();
  const missing = await page.locator("#check-status").innerText();
  if (!missing.includes("ERR_NGROK_425")) fail(`no ERR_NGROK_425 in: ${missing}`);
  await shot("check-status-missing");
  say("RECORDS_MISSING");
  await waitFor("records");
  await page.getByRole("button", { name: "Check Status" }).click();
  await page.getByText("DNS records are configured correctly").waitFor();
  await shot("check-status-success");
  await page.getByRole("link", { name: "Domains" }).click();
  await shot("domains");
  say("RECORDS_OK");

  // An agent ingress and its NS targets.
  await page.getByRole("link", { name: "Agent Ingresses" }).click();
  await page.getByLabel("Domain", { exact: true }).fill("connect.customer1.example.com");
  await page.getByLabel("Description").fill("customer1 agents");
  await page.getByRole("button", { name: "Add Agent Ingress" }).click();
  await page.getByRole("heading", { name: "NS Targets" }).waitFor();
  const ns = await page.locator("#ns-targets + p + ul li").allInnerTexts();
  if (!ns.length) fail("no NS targets shown");
  await shot("agent-ingress");
  await page.getByRole("link", { name: "Agent Ingresses" }).click();
  await shot("agent-ingresses");
  say("INGRESS", ns.join(","));

  // A CA certificate uploaded as a file; a file that is no PEM is refused beside the field.
  await page.getByRole("link", { name: "Certificate Authorities" }).click();
  const wrong = path.join(profile, "notes.txt");
  fs.writeFileSync(wrong, "not a certificate\n");
  await page.getByLabel("PEM file").setInputFiles(wrong);
  await page.getByRole("button", { name: "Upload Certificate Authority" }).click();
  const refused = await page.locator("#ca_pem-error").innerText();
  if (!/ERR_FERRY_\d+/.test(refused)) fail(`no code beside the field: ${refused}`);
  await shot("certificate-authority-refused");
  await page.getByLabel("PEM file").setInputFiles(caPem);
  await page.getByLabel("Description").fill("dev CA");
  await page.getByRole("button", { name: "Upload Certificate Authority" }).click();
  const subject = await page.getByRole("row", { name: /dev CA/ })
    .locator('td[data-label="Subject"]').innerText();
  await shot("certificate-authorities");
  say("CA_SUBJECT", subject);
  await page.getByRole("link", { name: "TLS Certificates" }).click();
  await shot("tls-certificates");
  await page.getByRole("link", { name: "Edge" }).click();
  await page.getByText("Listeners").waitFor();
  await shot("edge");

  // A bot user, then its authtoken.
  await page.getByRole("link", { name: "Bot Users" }).click();
  await page.getByLabel("Name").fill("customer1 bot");
  await page.getByRole("button", { name: "Add Bot User" }).click();
  await page.getByRole("cell", { name: "customer1 bot" }).waitFor();
  await shot("bot-users");
  await page.getByRole("link", { name: "Authtokens" }).click();
  await page.getByRole("link", { name: "Add a Tunnel Authtoken" }).click();
  const owner = page.getByLabel("Owner");
  const option = owner.locator("option", { hasText: "customer1 bot" });
  await owner.selectOption(await option.getAttribute("value"));
  await page.getByLabel("Description").fill("customer1 agent");
  await page.getByLabel("ACL Rules").fill("bind:*.customer1.example.com");
  await shot("add-authtoken");
  await page.getByRole("button", { name: "Save" }).click();
  const token = (await page.locator("#new-secret").innerText()).trim();
  if (!token) fail("no token shown");
  await shot("authtoken-shown-once");
  await page.reload();
  await page.getByRole("heading", { name: "Authtokens" }).waitFor();
  if (await page.locator("#new-secret").count() > 0) fail("the token is shown again");
  if ((await page.content()).includes(token)) fail("the token is on the page again");
  const row = page.getByRole("row", { name: /customer1 agent/ });
  await row.getByRole("link", { name: /^Edit/ }).click();
  await page.getByRole("heading", { name: "Edit Authtoken" }).waitFor();
  await shot("edit-authtoken");
  await page.getByRole("link", { name: "Live" }).click();
  await page.getByText("No agent is connected.").waitFor();
  say("TOKEN", token);

  // The agent connects with the token: the Live page shows it without a reload.
  await waitFor("agent");
  await page.getByRole("heading", { name: "Tunnel Sessions (1)" }).waitFor({ timeout: 15_000 })
    .catch(() => fail("the Live page did not show the agent's session without a reload"));
  const live = await page.locator("#live").innerText();
  await shot("live");
  say("LIVE", live.includes("app.customer1.example.com") ? "tunnel" : "no-tunnel");

  // Revoking the token in the page disconnects the agent.
  await page.getByRole("link", { name: "Authtokens" }).click();
  await page.getByRole("row", { name: /customer1 agent/ })
    .getByRole("button", { name: /^Revoke/ }).click();
  await page.getByRole("heading", { name: "Authtokens" }).waitFor();
  say("REVOKED");

  // An API key, shown once.
  await page.getByRole("link", { name: "API Keys" }).click();
  await page.getByLabel("Description").fill("made in the dashboard");
  await page.getByRole("button", { name: "Add API Key" }).click();
  const key = (await page.locator("#new-secret").innerText()).trim();
  await shot("api-key-shown-once");
  await page.getByRole("link", { name: "Bot Users" }).click();
  await page.getByRole("row", { name: /customer1 bot/ })
    .getByRole("button", { name: /^Deactivate/ }).click();
  await page.getByRole("cell", { name: "no", exact: true }).waitFor();
  await page.reload();
  if ((await page.content()).includes(key)) fail("the API key is on the page again");
  say("API_KEY", key);

  // The session cookie, for the test's cross-site POST; then sign out.
  const cookie = (await context.cookies()).find((c) => c.name === "ferry_session");
  if (!cookie?.httpOnly || cookie.sameSite !== "Strict") fail(`cookie: ${JSON.stringify(cookie)}`);
  say("COOKIE", cookie.value);
  await waitFor("forged");
  await page.getByRole("button", { name: "Sign out" }).click();
  await atSignIn("after sign out");
  await page.goto(`${apiUrl}/dashboard/domains`);
  await atSignIn("after sign out, a page");
  say("SIGNED_OUT");

  // Signed in with the new key, which the test then deletes through the REST API.
  await signIn(key);
  say("SIGNED_IN_AGAIN");
  await waitFor("deleted");
  await page.reload();
  await atSignIn("after the API key was deleted");
  say("DONE");
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(0);
