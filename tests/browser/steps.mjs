// One step of a browser flow in real Chromium (Debian's /usr/bin/chromium),
// driven by tests/it/browser.rs. The browser's cookies persist between steps
// in a state file, so a flow is a series of processes like a user's visits.
//   node steps.mjs <step> --base URL --state FILE --shots DIR [--no-js] [--arg value]...
// Exits non-zero with a message when an expectation fails.
import { chromium } from "playwright-core";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [step, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i++) {
  if (!rest[i].startsWith("--")) continue;
  const key = rest[i].slice(2);
  const next = rest[i + 1];
  if (next === undefined || next.startsWith("--")) opts[key] = true;
  else { opts[key] = next; i++; }
}
const base = opts.base;
const js = !opts["no-js"];
// The screen: a desktop unless `--width` asks for another (390: a phone).
const viewport = opts.width
  ? { width: Number(opts.width), height: Number(opts.width) <= 480 ? 844 : 900 }
  : { width: 1280, height: 900 };

function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

async function text(page) {
  return (await page.locator("body").innerText()).replace(/\s+/g, " ");
}

// With htmx an answer is swapped in after the request: wait for its text.
async function waitText(page, t) {
  await page.waitForFunction((t) => document.body.innerText.includes(t), t, { timeout: 15000 }).catch(() => {});
}

// What sticks out past the right edge of the screen: the page's scroll
// width, the screen's width, and the elements in the page body that reach
// past it. Tables and their cells count: a table that merely scrolls inside
// its box still hides its right side. Visually hidden content (clipped, for
// screen readers) does not count.
async function overflowAt(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const clipped = (el) => {
      for (let a = el; a; a = a.parentElement) {
        const style = getComputedStyle(a);
        if ((style.clip && style.clip !== "auto") || (style.clipPath && style.clipPath !== "none")) return true;
      }
      return false;
    };
    const wide = [...document.querySelectorAll("main *")]
      .filter((el) => {
        const box = el.getBoundingClientRect();
        return box.width > 1 && box.right > width + 1 && !clipped(el);
      })
      .map((el) => el.outerHTML.slice(0, 80));
    return { scroll: document.documentElement.scrollWidth, width, wide };
  });
}

// Fails when the page at `path` scrolls sideways or has anything past the right edge.
async function expectNoOverflow(page, path) {
  const overflow = await overflowAt(page);
  expect(overflow.scroll <= overflow.width, `${path} scrolls sideways at ${overflow.width} px (${overflow.scroll} > ${overflow.width})`);
  expect(overflow.wide.length === 0, `${path} has elements past the right edge: ${overflow.wide.join(" | ")}`);
}

// Every visible form control of the page has a label (a <label>, aria-label
// or aria-labelledby).
async function expectLabelled(page, path) {
  const bare = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.type !== "hidden" && !el.labels?.length
      && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
    .map((el) => el.outerHTML.slice(0, 80)));
  expect(bare.length === 0, `${path} has inputs without a label: ${bare.join(" | ")}`);
}

// axe-core on the open page (WCAG 2 A/AA and best practices): returns its
// serious or critical violations and prints the counts by impact. axe works
// through promises and timers, which do not run while the page's scripts
// are off: without JavaScript this checks nothing (the server sends the
// same HTML either way, so the JavaScript run covers it).
async function axeProblems(page, path) {
  if (!js) return [];
  const source = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const counts = {};
  const problems = [];
  for (const v of result.violations) {
    counts[v.impact] = (counts[v.impact] || 0) + v.nodes.length;
    if (v.impact === "serious" || v.impact === "critical") {
      const where = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ");
      problems.push(`${path}: ${v.id} (${v.impact}) ${v.help} at ${where}`);
    }
  }
  console.log(`axe ${path}: ${JSON.stringify(counts)}`);
  return problems;
}

async function submit(page, locator) {
  await Promise.all([page.waitForLoadState("load"), locator.click()]);
  await page.waitForLoadState("networkidle");
}

const steps = {
  // Visitor → pricing → sign-up form → dashboard with the trial banner.
  async signup(page) {
    await page.goto(`${base}/`);
    await submit(page, page.getByRole("link", { name: /Start your 14-day free trial/ }));
    await page.fill("#f-name", opts.name);
    await page.fill("#f-email", opts.email);
    await page.fill("#f-password", opts.password);
    await submit(page, page.getByRole("button", { name: "Create account" }));
    expect(page.url().endsWith("/dashboard"), `landed on ${page.url()}`);
    const banner = await page.locator("#trial-banner").innerText();
    expect(banner.includes("14 days left"), `trial banner: ${banner}`);
  },

  // Opens a link (e.g. from an email), presses its button when `click`
  // names one, and expects some text.
  async open(page) {
    await page.goto(opts.url);
    if (opts.click) await submit(page, page.getByRole("button", { name: opts.click }));
    const body = await text(page);
    expect(body.includes(opts.expect), `page at ${opts.url} lacks "${opts.expect}": ${body.slice(0, 300)}`);
  },

  // Owner invites someone from the team page.
  async invite(page) {
    await page.goto(`${base}/team`);
    await page.fill("#f-email", opts.email);
    await page.selectOption("#f-role", opts.role);
    await submit(page, page.getByRole("button", { name: "Send invitation" }));
    await waitText(page, opts.email);
    await page.goto(`${base}/team`);
    const body = await text(page);
    expect(body.includes(opts.email), "the pending invitation is listed");
  },

  // The invitee opens the link in a fresh browser and creates an account.
  async accept(page) {
    await page.goto(opts.url);
    await submit(page, page.getByRole("link", { name: "Create an account" }));
    const email = await page.inputValue("#f-email");
    expect(email === opts.email, `email fixed to the invitation: ${email}`);
    await page.fill("#f-name", opts.name);
    await page.fill("#f-password", opts.password);
    await submit(page, page.getByRole("button", { name: "Create account" }));
    const body = await text(page);
    expect(body.includes(opts.org), `the new member is in ${opts.org}: ${body.slice(0, 200)}`);
  },

  // Owner changes a member's role inline (htmx on change; a button without JS).
  async "change-role"(page) {
    await page.goto(`${base}/team`);
    const select = page.getByLabel(`Role for ${opts.member}`);
    if (js) {
      const response = page.waitForResponse((r) => r.url().includes("/role") && r.request().method() === "POST");
      await select.selectOption(opts.role);
      const r = await response;
      expect(r.status() === 200, `inline role change answered ${r.status()}`);
      await page.waitForLoadState("networkidle");
      expect(page.url().endsWith("/team"), "no page load: the row was swapped in place");
    } else {
      await select.selectOption(opts.role);
      const form = select.locator("xpath=ancestor::form");
      await submit(page, form.getByRole("button", { name: "Change" }));
    }
    await page.goto(`${base}/team`);
    const value = await page.getByLabel(`Role for ${opts.member}`).inputValue();
    expect(value === opts.role, `role is now ${value}`);
  },

  // A viewer: pages read-only, and a crafted write is refused by the server.
  async "viewer-readonly"(page) {
    await page.goto(`${base}/team`);
    const body = await text(page);
    expect(!body.includes("Send invitation"), "no invite form for a viewer");
    expect((await page.locator("select[name=role]").count()) === 0, "no role selects for a viewer");
    const csrf = await page.evaluate(() => document.querySelector("input[name=csrf_token]")?.value
      ?? JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]).catch(() => null);
    const token = csrf ?? (await page.locator("input[name=csrf_token]").first().getAttribute("value"));
    const r = await page.request.post(`${base}/team/invitations`, {
      form: { email: "sneaky@example.com", role: "ADMIN", csrf_token: token }, maxRedirects: 0,
    });
    expect(r.status() === 403, `crafted invite as viewer answered ${r.status()}`);
  },
};

Object.assign(steps, {
  // Adds one lead through the lead form; `--expect` is text the page must show after.
  async "add-lead"(page) {
    await page.goto(`${base}/leads`);
    const summary = page.locator("details.add-lead > summary");
    if (await summary.count() && !(await page.locator("details.add-lead[open]").count())) await summary.click();
    await page.fill("#f-first_name", opts.first);
    await page.fill("#f-email", opts.email);
    await submit(page, page.getByRole("button", { name: "Add lead" }));
    await waitText(page, opts.expect);
    const body = await text(page);
    expect(body.includes(opts.expect), `after adding ${opts.email}: "${opts.expect}" missing in ${body.slice(0, 400)}`);
  },

  // The usage page: the meter of `--limit` has the `--class` modifier.
  async meter(page) {
    await page.goto(`${base}/usage`);
    const meter = page.locator(`.meter[data-limit=${opts.limit}]`);
    const classes = await meter.getAttribute("class");
    expect(classes.includes(opts.class), `meter ${opts.limit} classes: ${classes}`);
    if (opts.not) expect(!classes.includes(opts.not), `meter ${opts.limit} should not be ${opts.not}: ${classes}`);
  },

  // The owner tries a paid plan from the plans page (applies at once in the trial).
  async upgrade(page) {
    await page.goto(`${base}/plans`);
    const button = page.getByRole("button", { name: `Try ${opts.plan}` }).first();
    if (js) {
      const answered = page.waitForResponse((r) => r.url().includes("/plans/change") && r.request().method() === "POST");
      await button.click();
      const r = await answered;
      expect(r.status() < 400, `plan change answered ${r.status()}`);
      await page.waitForLoadState("networkidle");
    } else {
      await submit(page, button);
    }
    await page.goto(`${base}/usage`);
    const body = await text(page);
    expect(body.includes(opts.plan), `usage page after the upgrade: ${body.slice(0, 300)}`);
  },

  // Uploads a CSV, previews it and imports; the report lists the bad rows by line.
  async "import-csv"(page) {
    await page.goto(`${base}/leads/import`);
    await page.setInputFiles("#f-file", opts.file);
    await submit(page, page.getByRole("button", { name: "Upload and preview" }));
    await waitText(page, opts.problem);
    let body = await text(page);
    expect(body.includes(opts.problem), `preview lists "${opts.problem}": ${body.slice(0, 500)}`);
    await submit(page, page.getByRole("button", { name: /^Import \d+ leads$/ }));
    await waitText(page, opts.done);
    body = await text(page);
    expect(body.includes(opts.done), `import report says "${opts.done}": ${body.slice(0, 500)}`);
  },

  // Each page at phone width (390 px): no horizontal scrolling, every
  // table's row actions inside the screen; a screenshot of each.
  async "phone-tables"(page) {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of opts.paths.split(",")) {
      await page.goto(`${base}${path}`);
      const overflow = await overflowAt(page);
      if (opts.shots) {
        mkdirSync(opts.shots, { recursive: true });
        const name = path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "");
        await page.screenshot({ path: `${opts.shots}/phone-${name}${js ? "" : "-nojs"}.png`, fullPage: true });
      }
      expect(overflow.scroll <= overflow.width, `${path} scrolls sideways at 390 px (${overflow.scroll} > ${overflow.width})`);
      expect(overflow.wide.length === 0, `${path} has elements past the right edge: ${overflow.wide.join(" | ")}`);
    }
  },
});

Object.assign(steps, {
  // Each page at desktop width, screenshotted, then checked with axe-core
  // (WCAG 2 A/AA and best practices): any serious or critical violation
  // fails the step; the counts by impact are printed for every page.
  async axe(page) {
    const problems = [];
    for (const path of opts.paths.split(",")) {
      await page.goto(`${base}${path}`);
      if (opts.shots) {
        mkdirSync(opts.shots, { recursive: true });
        const name = path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "");
        await page.screenshot({ path: `${opts.shots}/desktop-${name}${js ? "" : "-nojs"}.png`, fullPage: true });
      }
      problems.push(...(await axeProblems(page, path)));
    }
    expect(problems.length === 0, `accessibility violations:\n${problems.join("\n")}`);
  },
});

Object.assign(steps, {
  // From the dashboard through the navigation to Settings → Mailboxes, where
  // the owner connects a mailbox (SMTP and IMAP on loopback, no TLS) and sees
  // it listed as active. At phone width nothing sticks out, before and after;
  // every field has a label; axe checks the page with its listed mailbox.
  async "connect-mailbox"(page) {
    await page.goto(`${base}/dashboard`);
    await submit(page, page.locator("nav.sidenav").getByRole("link", { name: "Settings", exact: true }));
    await submit(page, page.locator("main").getByRole("link", { name: "Mailboxes", exact: true }));
    expect(new URL(page.url()).pathname === "/settings/mailboxes", `the Mailboxes link led to ${page.url()}`);
    await expectLabelled(page, "/settings/mailboxes");
    await expectNoOverflow(page, "/settings/mailboxes (empty)");
    await page.fill("#f-display_name", opts.name);
    await page.fill("#f-email", opts.email);
    for (const server of ["smtp", "imap"]) {
      await page.fill(`#f-${server}_host`, "127.0.0.1");
      await page.fill(`#f-${server}_port`, opts[`${server}-port`]);
      await page.selectOption(`#f-${server}_security`, "none");
      await page.fill(`#f-${server}_username`, opts.user);
      await page.fill(`#f-${server}_password`, opts[`${server}-password`]);
    }
    await submit(page, page.getByRole("button", { name: "Connect mailbox" }));
    await waitText(page, opts.email);
    const row = page.locator("tr", { hasText: opts.email });
    expect(await row.count() === 1, `the mailbox is listed: ${(await text(page)).slice(0, 600)}`);
    const cells = (await row.innerText()).replace(/\s+/g, " ");
    expect(cells.includes("Active"), `the mailbox is active: ${cells}`);
    expect(!(await text(page)).includes(opts["imap-password"]), "no password shown");
    await expectNoOverflow(page, "/settings/mailboxes");
    const problems = await axeProblems(page, "/settings/mailboxes");
    expect(problems.length === 0, `accessibility violations:\n${problems.join("\n")}`);
  },

  // From the dashboard through the navigation to the leads, then the lead
  // named `--lead`: its activity shows the reply with its text.
  async "read-conversation"(page) {
    await page.goto(`${base}/dashboard`);
    await submit(page, page.locator("nav.sidenav").getByRole("link", { name: "Leads", exact: true }));
    await submit(page, page.locator("main").getByRole("link", { name: opts.lead }).first());
    const path = new URL(page.url()).pathname;
    expect(/^\/leads\/[0-9a-f-]{36}$/.test(path), `the lead's link led to ${page.url()}`);
    const reply = page.locator("#activity li.timeline-item[data-kind=reply]");
    expect(await reply.count() === 1, `one reply in the activity: ${(await text(page)).slice(0, 800)}`);
    const said = (await reply.innerText()).replace(/\s+/g, " ");
    expect(said.includes(opts.expect), `the reply reads "${opts.expect}": ${said}`);
    const sent = page.locator("#activity li.timeline-item[data-kind=message]");
    expect(await sent.count() === 1, "the message it answers is in the activity");
    await expectNoOverflow(page, path);
    await expectLabelled(page, path);
    const problems = await axeProblems(page, path);
    expect(problems.length === 0, `accessibility violations:\n${problems.join("\n")}`);
  },
});

// A step that hangs fails instead of holding the test run.
const deadline = setTimeout(() => {
  console.error(`FAILED ${step}: no answer within 180 s`);
  process.exit(1);
}, 180_000);
deadline.unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({
    javaScriptEnabled: js,
    viewport,
    storageState: opts.state && existsSync(opts.state) ? opts.state : undefined,
  });
  const page = await context.newPage();
  const run = steps[step];
  if (!run) throw new Error(`unknown step ${step}`);
  try {
    await run(page);
  } finally {
    if (opts.shots) {
      mkdirSync(opts.shots, { recursive: true });
      await page.screenshot({ path: `${opts.shots}/${opts.tag || step}${js ? "" : "-nojs"}.png`, fullPage: true }).catch(() => {});
    }
  }
  if (opts.state) await context.storageState({ path: opts.state });
  console.log(`ok ${step}${js ? "" : " (no JavaScript)"}`);
} catch (e) {
  console.error(`FAILED ${step}: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
