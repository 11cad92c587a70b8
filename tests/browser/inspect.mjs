// Drives the agent's inspection page in headless Chromium:
//   node inspect.mjs WEB_URL SCREENSHOT
// Protocol with the Rust test on stdio: prints PAGE_READY, waits for a line on stdin (the test
// has sent a request through the tunnel), then checks that the list updates, that the detail
// shows the response, and that Replay sends a new request; prints DONE.
import { chromium } from "playwright-core";
import readline from "node:readline";

const [webUrl, screenshot] = process.argv.slice(2);
const fail = (msg) => { console.error(msg); process.exit(1); };
setTimeout(() => fail("timed out"), 60_000).unref();

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(webUrl);
  await page.waitForSelector("#count");
  console.log("PAGE_READY");
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once("line", resolve));
  rl.close();

  const row = page.locator("tr.req", { hasText: "/browser-check" });
  await row.first().waitFor({ timeout: 15_000 });
  await row.first().click();
  await page.waitForSelector("#detail-title");
  const body = await page.locator("#response-body").innerText();
  if (!body.includes("hello from browser")) fail(`unexpected response body: ${body}`);

  await page.click("#replay");
  await page.waitForFunction(
    () => document.querySelectorAll("tr.req").length >= 2, null, { timeout: 15_000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log("DONE");
} finally {
  await browser.close();
}
process.exit(0);
