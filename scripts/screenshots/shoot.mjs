// Screenshots pages of a running Lead Dashboard, signed in, with Debian's
// Chromium. Usage:
//   (cd scripts/screenshots && npm ci)
//   node scripts/screenshots/shoot.mjs --base http://127.0.0.1:8080 \
//     --email behar@example.com --password PW --out /tmp/shots [--width 390] /dashboard /leads
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const base = opt("base", "http://127.0.0.1:8080");
const email = opt("email", null);
const password = opt("password", null);
const out = opt("out", "/tmp/shots");
const width = Number(opt("width", "1280"));
const noJs = opt("no-js", "0") === "1";
const pages = args.length ? args : ["/"];
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width, height: 900 }, javaScriptEnabled: !noJs });
const page = await context.newPage();
if (email) {
  await page.goto(`${base}/login`);
  await page.fill("#f-email", email);
  await page.fill("#f-password", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}
for (const path of pages) {
  await page.goto(`${base}${path}`);
  const name = path.replace(/[^a-z0-9]+/gi, "_").replace(/^_|_$/g, "") || "home";
  const file = `${out}/${name}-${width}.png`;
  await page.screenshot({ path: file, fullPage: true });
  console.log(file);
}
await browser.close();
