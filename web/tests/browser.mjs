// Browser tests of the console (issue 11, "Must show"): headless Debian Chromium driven by
// playwright-core against a demo server this script starts on a free loopback port.
//
//   node web/tests/browser.mjs            (CITYSNAP_BIN: the citysnap binary to run)
//
// The resident form submits a report with a photo and sees it on its timeline; an
// out-of-area pin shows the refusal; an anonymous resident keeps the follow-up secret, and a
// fresh browser opens the report from the secret link (timeline, then the rating once closed)
// or a pasted code; the dispatcher sees the new case appear live,
// dispatches it by clicking a unit on the map and sees it turn yellow on a short-deadline
// category; the planner view draws hexagons and hotspots (asserted on what OpenLayers
// rendered); the language switch changes the text. Screenshots of every page at 375 px and
// 1920 px go to target/artefacts/. Bounded in time; fails when Chromium cannot start.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin = process.env.CITYSNAP_BIN ?? path.join(repo, "target/debug/citysnap");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artefacts = path.join(repo, "target/artefacts");
const LIMIT_MS = Number(process.env.BROWSER_TEST_LIMIT_MS ?? 420_000);
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const watchdog = setTimeout(() => {
  console.error(`browser tests: over ${LIMIT_MS / 1000} s, giving up`);
  cleanup();
  process.exit(1);
}, LIMIT_MS);

let server = null;
let dataDir = null;
let browser = null;
function cleanup() {
  if (server && server.exitCode === null) server.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

async function freePort(from = 18300, to = 18399) {
  for (let p = from; p <= to; p++) {
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(p, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  throw new Error("no free port in 18300-18399");
}

function fail(message) {
  throw new Error(message);
}

const results = [];
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(results.at(-1));
  } catch (e) {
    results.push(`FAIL ${name}: ${e.message}`);
    console.log(results.at(-1));
    throw e;
  }
}

/// Web Mercator metres of a WGS-84 point (EPSG:3857), to centre the map on it.
function mercator(lon, lat) {
  const r = 6378137;
  return [(lon * Math.PI * r) / 180, r * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))];
}

async function api(base, pathname, { method = "GET", body, token } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + pathname, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) fail(`${method} ${pathname}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/// Fails on uncaught exceptions and console errors (except the browser's own line for an
/// HTTP refusal the page shows on purpose, e.g. the 422 of an out-of-area pin).
function watchErrors(page, errors) {
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(m.text())) {
      errors.push(`console: ${m.text()}`);
    }
  });
}

/// Asks the current view's map for a fresh frame and waits until it is drawn with every
/// tile loaded (OpenLayers' `rendercomplete`), at most 30 s.
async function rendered(page) {
  await page.evaluate(
    () =>
      new Promise((resolve) => {
        const map = window.citysnap.map;
        map.once("rendercomplete", resolve);
        map.render();
        setTimeout(resolve, 30_000);
      }),
  );
}

/// Centres the resident map on a WGS-84 point and taps its middle.
async function tapMapCentre(page, lon, lat) {
  await page.evaluate(([x, y]) => {
    const v = window.citysnap.map.getView();
    v.setCenter([x, y]);
    v.setZoom(16);
  }, mercator(lon, lat));
  await rendered(page);
  const box = await page.locator("#resident-map").boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

async function signInAs(page, principal) {
  await page.getByTestId("sign-in").click();
  await page.locator(`[data-principal="${principal}"]`).click();
  await page.getByTestId("who").waitFor();
}

async function screenshots(browser, base, token, name, hash) {
  for (const [w, h] of [[375, 812], [1920, 1080]]) {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, locale: "zh-CN" });
    if (token) await ctx.addInitScript((t) => localStorage.setItem("citysnap.token", t), token);
    const page = await ctx.newPage();
    await page.goto(`${base}/${hash}`);
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready);
    await rendered(page);
    await page.screenshot({ path: path.join(artefacts, `${name}-${w}.png`), fullPage: w === 375 });
    await ctx.close();
  }
}

async function main() {
  mkdirSync(artefacts, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  dataDir = mkdtempSync(path.join(os.tmpdir(), "citysnap-browser-"));
  const reports = process.env.CITYSNAP_DEMO_REPORTS ?? "20000";
// A red margin of an hour keeps the five-second case yellow (not red at once) while the
  // test looks at it; the deadline job sweeps every 15 s.
  const args = ["serve", "--demo", "--demo-reports", reports, "--red-margin", "PT1H", "--bind", `127.0.0.1:${port}`, "--data-dir", dataDir];
  server = spawn(bin, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "citysnap=info,warn" },
  });
  server.on("exit", (code) => {
    if (code !== null && code !== 0) console.error(`server exited with ${code}`);
  });
  await step("demo server comes up with its history", async () => {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${base}/readyz`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      if (server.exitCode !== null) fail(`server exited with ${server.exitCode}`);
      if (i > 600) fail("server not ready after 300 s");
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS, timeout: 30_000 });
  const errors = [];

  // A category with a 5-second deadline and no handler: its reports wait in the queue.
  const admin = await api(base, "/v1/demo/sign-in", { method: "POST", body: { principal: "u-demo-admin" } });
  await api(base, "/v1/categories", {
    method: "POST",
    token: admin.token,
    body: {
      code: "0199", name: "演示：五秒时限", name_en: "Demo: five-second limit", kind: "problem", parent: "01",
      time_limit: "PT5S", calendar: "natural", points: 1,
    },
  });

  // Dispatcher at 1920 px.
  const dctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN" });
  const dpage = await dctx.newPage();
  watchErrors(dpage, errors);
  let demoCase;
  await step("dispatcher console shows the demo's cases on the map, live", async () => {
    await dpage.goto(`${base}/`);
    await signInAs(dpage, "u-demo-dispatcher");
    await dpage.waitForFunction(() => document.querySelector("main")?.dataset.live === "true", null, { timeout: 60_000 });
    const n = await dpage.evaluate(() => window.citysnap.cases.getFeatures().length);
    const least = Math.max(1, Math.floor(Number(process.env.CITYSNAP_DEMO_REPORTS ?? 20000) / 400));
    if (n < least) fail(`only ${n} open cases on the map`);
    demoCase = await dpage.evaluate(() => {
      const f = window.citysnap.cases.getFeatures()[0];
      return f.get("case_id");
    });
  });
  const dispatcherToken = await dpage.evaluate(() => localStorage.getItem("citysnap.token"));
  const anyCase = await api(base, `/v1/cases/${demoCase}`, { token: dispatcherToken });

  // Resident on a 375 px phone.
  const rctx = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, locale: "zh-CN" });
  const rpage = await rctx.newPage();
  watchErrors(rpage, errors);
  await rpage.goto(`${base}/#/report`);
  await signInAs(rpage, "u-demo-r-0001");
  await rpage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
  const tapCentre = (lon, lat) => tapMapCentre(rpage, lon, lat);
  await step("an out-of-area pin (Jining) shows the refusal with the distance", async () => {
    await tapCentre(116.595, 35.41);
    const refusal = rpage.getByTestId("refusal");
    await refusal.filter({ hasText: "公里" }).waitFor({ timeout: 20_000 });
    const text = await refusal.textContent();
    if (!/兴隆台区/.test(text) || !/\d+ 公里/.test(text)) fail(`refusal says ${text}`);
  });
  let caseId;
  await step("the resident reports with a photo and sees it on the timeline", async () => {
    await tapCentre(anyCase.location.lon + 0.0004, anyCase.location.lat + 0.0003);
    await rpage.getByTestId("where").filter({ hasText: "·" }).waitFor({ timeout: 20_000 });
    await rpage.selectOption("#category", "0199");
    await rpage.fill("#description", "浏览器测试：路口井盖松动");
    await rpage.setInputFiles("#photo", { name: "pothole.png", mimeType: "image/png", buffer: readFileSync(path.join(repo, "src/demo/after.png")) });
    await rpage.fill("#phone", `139${String(Date.now()).slice(-8)}`);
    await rpage.click("button.primary");
    await rpage.getByTestId("case-id").waitFor({ timeout: 30_000 });
    caseId = (await rpage.getByTestId("case-id").textContent()).trim();
    await rpage.locator('.timeline li[data-action="submit"]').waitFor();
    const report = await api(base, `/v1/reports/${caseId}`, { token: dispatcherToken });
    if (!report.media?.some((m) => m.kind === "photo" && m.media_type === "image/jpeg")) fail(`no resized photo: ${JSON.stringify(report.media)}`);
    await rpage.screenshot({ path: path.join(artefacts, "report-submitted-375.png"), fullPage: true });
  });

  // An anonymous resident: the follow-up secret is the only key to the report.
  const actx = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, locale: "zh-CN" });
  const apage = await actx.newPage();
  watchErrors(apage, errors);
  let anonCase, secret, link;
  await step("an anonymous resident reports and is given the follow-up link, kept as one of my reports", async () => {
    await apage.goto(`${base}/#/report`);
    await apage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    if (await apage.getByTestId("who").count()) fail("the anonymous context is signed in");
    await tapMapCentre(apage, anyCase.location.lon - 0.0003, anyCase.location.lat + 0.0002);
    await apage.getByTestId("where").filter({ hasText: "·" }).waitFor({ timeout: 20_000 });
    await apage.selectOption("#category", "90");
    await apage.fill("#description", "浏览器测试：感谢环卫工人及时清扫");
    await apage.click("button.primary");
    await apage.getByTestId("case-id").waitFor({ timeout: 30_000 });
    anonCase = (await apage.getByTestId("case-id").textContent()).trim();
    link = await apage.getByTestId("follow-link").getAttribute("href");
    const m = /#\/follow\/(fu_[0-9a-f]{64})$/.exec(link);
    if (!m || !link.startsWith(base)) fail(`follow-up link ${link}`);
    secret = m[1];
    await apage.locator('.report-result .timeline li[data-action="submit"]').waitFor();
    const stored = await apage.evaluate(() => JSON.parse(localStorage.getItem("citysnap.follow-ups") ?? "[]"));
    if (!stored.some((f) => f.secret === secret && f.case_id === anonCase)) fail(`stored ${JSON.stringify(stored)}`);
    // After a reload the report is among "my reports", and its entry opens the progress.
    await apage.reload();
    await apage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    const mine = apage.locator(`[data-testid="my-reports"] li[data-case="${anonCase}"] a`);
    await mine.waitFor();
    await mine.click();
    await apage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "follow");
    await apage.locator(`.report-result[data-case-id="${anonCase}"] .timeline li[data-action="submit"]`).waitFor({ timeout: 20_000 });
    await apage.screenshot({ path: path.join(artefacts, "follow-anonymous-375.png"), fullPage: true });
  });
  await step("in a fresh browser the secret link shows the timeline, and the secret never goes in a URL sent", async () => {
    const fctx = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, locale: "zh-CN" });
    const fpage = await fctx.newPage();
    watchErrors(fpage, errors);
    const leaked = [];
    const withHeader = [];
    fpage.on("request", (r) => {
      if (r.url().includes(secret)) leaked.push(r.url());
      if (r.headers()["follow-up-secret"] === secret) withHeader.push(r.url());
    });
    await fpage.goto(link);
    await fpage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "follow");
    await fpage.locator('.report-result .timeline li[data-action="submit"]').waitFor({ timeout: 20_000 });
    if ((await fpage.getByTestId("follow-case").textContent()).trim() !== anonCase) fail("another case shown");
    if ((await fpage.getByTestId("follow-state").getAttribute("data-state")) !== "submitted") fail("state is not submitted");
    if (await fpage.getByTestId("rate").count()) fail("rating offered before the case is closed");
    if (leaked.length) fail(`secret in request URLs: ${leaked.join(", ")}`);
    if (!withHeader.some((u) => u.endsWith("/v1/follow-up"))) fail(`no follow-up request with the header: ${withHeader}`);
    // The secret opened the case, so this browser now lists it too.
    await fpage.locator(`[data-testid="my-reports"] li[data-case="${anonCase}"]`).waitFor();

    // Closed by the command centre (a praise is acknowledged), the page offers the rating.
    await api(base, `/v1/cases/${anonCase}/actions`, { method: "POST", token: dispatcherToken, body: { action: "acknowledge" } });
    await fpage.reload();
    await fpage.getByTestId("rate").waitFor({ timeout: 20_000 });
    if ((await fpage.getByTestId("follow-state").getAttribute("data-state")) !== "closed") fail("state is not closed");
    await fpage.selectOption('[data-testid="rate"] select[name="score"]', "4");
    await fpage.fill('[data-testid="rate"] input[name="comment"]', "很及时");
    await fpage.click('[data-testid="rate"] button[type="submit"]');
    await fpage.getByTestId("rate-thanks").waitFor({ timeout: 20_000 });
    await fpage.locator('.report-result .timeline li[data-action="rate"]').waitFor();
    if ((await fpage.getByTestId("follow-state").getAttribute("data-state")) !== "rated") fail("state after rating is not rated");
    if (await fpage.getByTestId("rate").count()) fail("rating still offered after rating");
    const c = await api(base, `/v1/cases/${anonCase}`, { token: dispatcherToken });
    if (c.state !== "rated") fail(`the API says ${c.state}`);
    const ev = await api(base, `/v1/cases/${anonCase}/events`, { token: dispatcherToken });
    const rate = ev.events.find((e) => e.action === "rate");
    if (rate?.payload?.score !== 4 || rate?.payload?.comment !== "很及时") fail(`rate event ${JSON.stringify(rate)}`);
    await fctx.close();
  });
  await step("a pasted follow-up code opens the report; a wrong one is refused in plain words", async () => {
    const pctx0 = await browser.newContext({ viewport: { width: 375, height: 812 }, locale: "en-GB" });
    const page = await pctx0.newPage();
    watchErrors(page, errors);
    await page.goto(`${base}/#/report`);
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    await page.fill('[data-testid="follow-secret"]', "fu_not-a-secret");
    await page.click(".follow-paste button");
    await page.locator(".follow-paste .error").filter({ hasText: "not a follow-up code" }).waitFor();
    await page.goto(`${base}/#/follow/fu_${"0".repeat(64)}`);
    await page.getByTestId("follow-error").filter({ hasText: "No report has this follow-up code" }).waitFor({ timeout: 20_000 });
    await page.goto(`${base}/#/report`);
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    await page.fill('[data-testid="follow-secret"]', `  ${link}  `);
    await page.click(".follow-paste button");
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready === "follow");
    await page.locator('.report-result .timeline li[data-action="rate"]').waitFor({ timeout: 20_000 });
    if ((await page.getByTestId("follow-state").textContent()).trim() !== "Rated") fail("English state name");
    await pctx0.close();
  });
  await actx.close();

  await step("the dispatcher sees the new case appear live, in the queue and on the map", async () => {
    await dpage.locator(`.case-list [data-case="${caseId}"]`).waitFor({ timeout: 30_000 });
    await dpage.waitForFunction((id) => Boolean(window.citysnap.cases.getFeatureById(id)), caseId);
  });
  await step("the dispatcher dispatches it by clicking its street on the map", async () => {
    await dpage.click(`.case-list [data-case="${caseId}"]`);
    await dpage.locator(`.case-panel[data-case-id="${caseId}"]`).waitFor();
    await dpage.getByTestId("dispatch-on-map").click();
    await rendered(dpage);
    const pixel = await dpage.evaluate((id) => {
      const f = window.citysnap.cases.getFeatureById(id);
      return window.citysnap.map.getPixelFromCoordinate(f.getGeometry().getCoordinates());
    }, caseId);
    const box = await dpage.locator("#dispatch-map").boundingBox();
    await dpage.mouse.click(box.x + pixel[0] + 6, box.y + pixel[1] + 6);
    const street = dpage.locator('.unit-chooser [data-level="street"]');
    await street.waitFor({ timeout: 20_000 });
    const code = await street.getAttribute("data-unit");
    await street.click();
    await dpage.locator(`.case-panel[data-state="dispatched"]`).waitFor({ timeout: 20_000 });
    const c = await api(base, `/v1/cases/${caseId}`, { token: dispatcherToken });
    if (c.unit?.unit !== code) fail(`dispatched to ${JSON.stringify(c.unit)}, clicked ${code}`);
  });
  await step("past its five-second deadline the case turns yellow on the live map", async () => {
    await dpage.waitForFunction(
      (id) => window.citysnap.cases.getFeatureById(id)?.get("warning") === "yellow",
      caseId,
      { timeout: 90_000 },
    );
    await dpage.locator(`.case-panel[data-warning="yellow"]`).waitFor({ timeout: 20_000 });
    await dpage.screenshot({ path: path.join(artefacts, "dispatch-yellow-1920.png") });
  });

  // Planner at 1920 px.
  const pctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN" });
  const ppage = await pctx.newPage();
  watchErrors(ppage, errors);
  let plannerToken;
  await step("the planner view draws hexagons and Gi* hotspots", async () => {
    await ppage.goto(`${base}/#/planner`);
    await signInAs(ppage, "u-demo-planner");
    plannerToken = await ppage.evaluate(() => localStorage.getItem("citysnap.token"));
    await ppage.waitForFunction(() => document.getElementById("app")?.dataset.ready === "planner");
    await ppage.waitForFunction(() => window.citysnap.rendered.hexbins.size > 20, null, { timeout: 60_000 });
    await ppage.check('input[name="hotspots"]');
    await ppage.waitForFunction(() => window.citysnap.rendered.hotspots.size > 0, null, { timeout: 90_000 });
    const drawn = await ppage.evaluate(() => {
      const h = window.citysnap.hotspots;
      const map = window.citysnap.map;
      const features = h.getFeaturesInExtent ? h.getFeaturesInExtent(map.getView().calculateExtent(map.getSize())) : [];
      return { hex: window.citysnap.rendered.hexbins.size, hot: window.citysnap.rendered.hotspots.size, inExtent: features.length,
        sig: features.map((f) => f.get("significance")) };
    });
    if (drawn.inExtent === 0 || !drawn.sig.every((s) => s !== 0)) fail(`hotspots drawn: ${JSON.stringify(drawn).slice(0, 300)}`);
    await ppage.locator('[data-testid="indicators"] tbody tr').first().waitFor({ timeout: 60_000 });
  });

  await step("the language switch changes the text", async () => {
    const before = await ppage.locator("header.top nav").textContent();
    await ppage.getByTestId("lang").click();
    await ppage.waitForFunction((b) => document.querySelector("header.top nav")?.textContent !== b, before);
    const after = await ppage.locator("header.top nav").textContent();
    const [zh, en] = before.includes("指挥调度") ? [before, after] : [after, before];
    if (!zh.includes("指挥调度") || !en.includes("Dispatch")) fail(`${before} → ${after}`);
    if (!(await ppage.locator("html").getAttribute("lang")).startsWith(before.includes("指挥调度") ? "en" : "zh")) fail("html lang");
  });

  await step("screenshots of every page at 375 px and 1920 px", async () => {
    await screenshots(browser, base, dispatcherToken, "dispatch", "#/dispatch");
    await screenshots(browser, base, plannerToken, "planner", "#/planner");
    await screenshots(browser, base, null, "report", "#/report");
  });

  await step("no uncaught errors or console errors", async () => {
    if (errors.length) fail(errors.join("\n"));
  });
}

main()
  .then(async () => {
    await browser?.close();
    cleanup();
    clearTimeout(watchdog);
    console.log(`browser tests: ${results.length} passed; screenshots in ${path.relative(process.cwd(), artefacts)}`);
    process.exit(0);
  })
  .catch(async (e) => {
    console.error(`browser tests failed: ${e.stack ?? e}`);
    await browser?.close().catch(() => {});
    cleanup();
    process.exit(1);
  });
