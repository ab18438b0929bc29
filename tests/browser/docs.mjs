// A person at /docs: Authorize with a username and password, "Try it out" on the iris
// prediction, Execute. Prints one JSON line of what happened; exits 0 only if the prediction
// answered 200, nothing was fetched from another origin and no CSP rule was broken.
//
// Environment: SERVIR_URL (the gateway), SERVIR_USERNAME, SERVIR_PASSWORD, CHROMIUM (the
// browser's executable), SCREENSHOT (optional: where to save the page at the end).
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("SERVIR_URL");
const origin = new URL(base).origin;
const STEP_MS = 20_000;

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--no-sandbox", "--disable-background-networking"],
});
const seen = { elsewhere: [], csp: [], failed: [], token: null, status: null, body: null };
let page;
try {
  page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["data:", "blob:"].includes(url.protocol) && url.origin !== origin) {
      seen.elsewhere.push(request.url());
    }
  });
  page.on("requestfailed", (request) => seen.failed.push(request.url()));
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) seen.csp.push(message.text());
  });
  page.on("response", (response) => {
    if (response.url() === `${origin}/auth/token`) seen.token = response.status();
  });

  await page.goto(`${base}/docs`);
  await page.locator("button.authorize").first().click();
  // The password fields go once authorized: find the section by its heading instead.
  const oauth = page.locator(".auth-container", { hasText: "(OAuth2, password)" });
  await oauth.locator("#oauth_username").fill(env("SERVIR_USERNAME"));
  await oauth.locator("#oauth_password").fill(env("SERVIR_PASSWORD"));
  await oauth.locator("button.authorize").click();
  await oauth.locator("button", { hasText: "Logout" }).waitFor();
  await oauth.locator("button.btn-done").click();

  const operation = page.locator("#operations-models-predict_iris");
  await operation.locator(".opblock-summary").first().click();
  await operation.locator("button.try-out__btn").click();
  await operation.locator("button.execute").click();
  const status = operation.locator(".live-responses-table tr.response .response-col_status").first();
  await status.waitFor();
  seen.status = (await status.innerText()).trim();
  seen.body = await operation.locator(".live-responses-table .microlight").first().innerText();
  await status.scrollIntoViewIfNeeded();
} catch (error) {
  seen.error = String(error);
} finally {
  if (page && process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT }).catch(() => {});
  }
  await browser.close();
}
console.log(JSON.stringify(seen));
const ok = seen.status === "200" && !seen.elsewhere.length && !seen.csp.length && !seen.error;
process.exit(ok ? 0 : 1);
