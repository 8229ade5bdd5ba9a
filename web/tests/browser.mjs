// Browser tests of the console (issue 11, "Must show"): headless Debian Chromium driven by
// playwright-core against a demo server this script starts on a free loopback port.
//
//   node web/tests/browser.mjs            (CITYSNAP_BIN: the citysnap binary to run)
//
// The resident form submits a report with a photo and sees it on its timeline; an
// out-of-area pin shows the refusal; an anonymous resident keeps the follow-up secret, and a
// fresh browser opens the report from the secret link (timeline, then the rating once
// closed) or a pasted code; the dispatcher sees the new case appear live, dispatches it by
// clicking a unit on the map and sees it turn yellow on a short-deadline category; the
// planner view draws hexagons and hotspots (asserted on what OpenLayers rendered); the
// language switch changes the text; with no basemap configured none is drawn, and a second
// demo server configured with a GCJ-02 basemap (tiles from a loopback server of this script,
// never the internet) shows its tiles warped onto the WGS-84 data. Screenshots of every page
// at 375 px and 1920 px go to target/artefacts/. Bounded in time; fails when Chromium cannot
// start.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import http from "node:http";
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

const servers = [];
const dataDirs = [];
let tileServer = null;
let browser = null;
function cleanup() {
  for (const server of servers) if (server.exitCode === null) server.kill("SIGTERM");
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  tileServer?.close();
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
  // A fresh browser on the dispatcher view of a demo is signed in as the demo's dispatcher.
  await page.getByTestId("sign-in").or(page.getByTestId("sign-out")).first().waitFor();
  if (await page.getByTestId("sign-out").isVisible()) await page.getByTestId("sign-out").click();
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

/// Starts `citysnap serve --demo` with `args` on a free loopback port and a fresh data
/// directory; resolves with its base URL once `/readyz` answers.
async function startDemo(reports, args) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "citysnap-browser-"));
  dataDirs.push(dataDir);
  const server = spawn(bin, ["serve", "--demo", "--demo-reports", reports, ...args, "--bind", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "citysnap=info,warn" },
  });
  servers.push(server);
  server.on("exit", (code) => {
    if (code !== null && code !== 0) console.error(`server exited with ${code}`);
  });
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return base;
    } catch {
      /* not yet */
    }
    if (server.exitCode !== null) fail(`server exited with ${server.exitCode}`);
    if (i > 600) fail("server not ready after 300 s");
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main() {
  mkdirSync(artefacts, { recursive: true });
  const reports = process.env.CITYSNAP_DEMO_REPORTS ?? "20000";
  let base;
  await step("demo server comes up with its history", async () => {
    // A red margin of an hour keeps the five-second case yellow (not red at once) while the
    // test looks at it; the deadline job sweeps every 15 s.
    base = await startDemo(reports, ["--red-margin", "PT1H"]);
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
    // What a newcomer sees on opening `/`: no sign-in step, the demo's dispatcher.
    await dpage.goto(`${base}/`);
    const who = await dpage.getByTestId("who").textContent({ timeout: 30_000 });
    if (!/调度员/.test(who)) fail(`opening / signed in as ${who}, not the demo's dispatcher`);
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

    // Acknowledged by the command centre, the praise is closed, and there is nothing to rate.
    await api(base, `/v1/cases/${anonCase}/actions`, { method: "POST", token: dispatcherToken, body: { action: "acknowledge" } });
    await fpage.reload();
    await fpage.locator('[data-testid="follow-state"][data-state="closed"]').waitFor({ timeout: 20_000 });
    await fpage.locator('.report-result .timeline li[data-action="acknowledge"]').waitFor();
    if (await fpage.getByTestId("rate").count()) fail("a praise is offered a rating");
    await fctx.close();
  });
  await step("a closed problem report is rated from its link in a fresh browser", async () => {
    // An anonymous report through intake, handled and closed through the API by its street.
    const r = await api(base, "/v1/reports", {
      method: "POST",
      body: { category: "0199", description: "浏览器测试：路灯不亮", location: { lon: anyCase.location.lon - 0.0012, lat: anyCase.location.lat + 0.0009 } },
    });
    const target = (await api(base, `/v1/cases/${r.case_id}`, { token: dispatcherToken })).units.street.code;
    const principals = await api(base, "/v1/demo/principals");
    const h = principals.roles.handler.find((p) => p.unit === target);
    if (!h) fail(`no demo handler for street ${target}`);
    const handlerToken = (await api(base, "/v1/demo/sign-in", { method: "POST", body: { principal: h.id } })).token;
    await api(base, `/v1/cases/${r.case_id}/actions`, { method: "POST", token: dispatcherToken, body: { action: "dispatch", target: { unit: target } } });
    await api(base, `/v1/cases/${r.case_id}/actions`, { method: "POST", token: handlerToken, body: { action: "accept" } });
    const up = await fetch(`${base}/v1/media`, {
      method: "POST",
      headers: { authorization: `Bearer ${handlerToken}`, "content-type": "image/png" },
      body: readFileSync(path.join(repo, "src/demo/after.png")),
    });
    if (!up.ok) fail(`media upload: ${up.status} ${await up.text()}`);
    const { key } = await up.json();
    await api(base, `/v1/cases/${r.case_id}/actions`, { method: "POST", token: handlerToken, body: { action: "resolve", note: "已更换灯泡", after_photos: [key] } });
    await api(base, `/v1/cases/${r.case_id}/actions`, { method: "POST", token: dispatcherToken, body: { action: "close" } });

    const fctx = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, locale: "zh-CN" });
    const fpage = await fctx.newPage();
    watchErrors(fpage, errors);
    await fpage.goto(`${base}/#/follow/${r.follow_up_secret}`);
    await fpage.getByTestId("rate").waitFor({ timeout: 20_000 });
    if ((await fpage.getByTestId("follow-state").getAttribute("data-state")) !== "closed") fail("state is not closed");
    for (const a of ["submit", "dispatch", "accept", "resolve", "close"]) {
      if (!(await fpage.locator(`.report-result .timeline li[data-action="${a}"]`).count())) fail(`no ${a} on the timeline`);
    }
    await fpage.selectOption('[data-testid="rate"] select[name="score"]', "4");
    await fpage.fill('[data-testid="rate"] input[name="comment"]', "很及时");
    await fpage.click('[data-testid="rate"] button[type="submit"]');
    await fpage.getByTestId("rate-thanks").waitFor({ timeout: 20_000 });
    await fpage.locator('.report-result .timeline li[data-action="rate"]').waitFor();
    if ((await fpage.getByTestId("follow-state").getAttribute("data-state")) !== "rated") fail("state after rating is not rated");
    if (await fpage.getByTestId("rate").count()) fail("rating still offered after rating");
    const c = await api(base, `/v1/cases/${r.case_id}`, { token: dispatcherToken });
    if (c.state !== "rated") fail(`the API says ${c.state}`);
    const ev = await api(base, `/v1/cases/${r.case_id}/events`, { token: dispatcherToken });
    const rate = ev.events.find((e) => e.action === "rate");
    if (rate?.payload?.score !== 4 || rate?.payload?.comment !== "很及时" || rate?.actor !== "anonymous") fail(`rate event ${JSON.stringify(rate)}`);
    await fpage.screenshot({ path: path.join(artefacts, "follow-rated-375.png"), fullPage: true });
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
    await page.locator('.report-result .timeline li[data-action="acknowledge"]').waitFor({ timeout: 20_000 });
    if ((await page.getByTestId("follow-state").textContent()).trim() !== "Closed") fail("English state name");
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

  // Merge, return and supervise (督办) from the case panel, each checked in the UI and the API.
  const spot = { lon: anyCase.location.lon + 0.001, lat: anyCase.location.lat - 0.0008 };
  const intake = async (description) => {
    const r = await api(base, "/v1/reports", { method: "POST", body: { category: "0199", description, location: spot } });
    return { id: r.case_id, secret: r.follow_up_secret };
  };
  const first = await intake("浏览器测试：人行道护栏倒伏");
  const second = await intake("浏览器测试：护栏倒了，同一处");
  const casePanel = (page, id) => page.locator(`.case-panel[data-case-id="${id}"]`);
  await step("the dispatcher merges a duplicate shown as a nearby candidate", async () => {
    await dpage.locator(`.case-list [data-case="${second.id}"]`).waitFor({ timeout: 30_000 });
    await dpage.click(`.case-list [data-case="${second.id}"]`);
    const merge = casePanel(dpage, second.id).locator(`.duplicates [data-merge-into="${first.id}"]`);
    await merge.waitFor({ timeout: 20_000 });
    await merge.click();
    await dpage.locator(`.case-panel[data-case-id="${second.id}"][data-state="merged"]`).waitFor({ timeout: 20_000 });
    if (await dpage.locator(`.case-list [data-case="${second.id}"]`).count()) fail("the merged case is still in the queue");
    const dup = await api(base, `/v1/cases/${second.id}`, { token: dispatcherToken });
    if (dup.state !== "merged" || dup.merged_into !== first.id) fail(`duplicate ${dup.state} into ${dup.merged_into}`);
    const master = await api(base, `/v1/cases/${first.id}`, { token: dispatcherToken });
    if (master.reporters !== 2) fail(`master has ${master.reporters} reporters`);
  });
  await step("the duplicate's reporter follows the master case", async () => {
    const ctx = await browser.newContext({ viewport: { width: 375, height: 812 }, locale: "zh-CN" });
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await page.goto(`${base}/#/follow/${second.secret}`);
    await page.getByTestId("follow-master").filter({ hasText: first.id }).waitFor({ timeout: 20_000 });
    if ((await page.getByTestId("follow-state").getAttribute("data-state")) !== "merged") fail("duplicate not shown merged");
    if ((await page.getByTestId("master-state").getAttribute("data-state")) !== "submitted") fail("master state");
    await ctx.close();
  });

  // The master goes to its street; that street's handler returns it (退回) from the panel.
  const street = master0 => master0.units.street.code;
  const firstCase = await api(base, `/v1/cases/${first.id}`, { token: dispatcherToken });
  await api(base, `/v1/cases/${first.id}/actions`, { method: "POST", token: dispatcherToken, body: { action: "dispatch", target: { unit: street(firstCase) } } });
  const principals = await api(base, "/v1/demo/principals");
  const handler = principals.roles.handler.find((p) => p.unit === street(firstCase));
  if (!handler) fail(`no demo handler for street ${street(firstCase)}`);
  await step("the street's handler returns the dispatched case with a reason", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN" });
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await page.goto(`${base}/`);
    await signInAs(page, handler.id);
    await page.waitForFunction(() => document.querySelector("main")?.dataset.live === "true", null, { timeout: 60_000 });
    // The case on the map (zoomed in far enough to stand alone), clicked.
    await page.waitForFunction((id) => Boolean(window.citysnap.cases.getFeatureById(id)), first.id, { timeout: 30_000 });
    await page.evaluate((id) => {
      const v = window.citysnap.map.getView();
      v.setCenter(window.citysnap.cases.getFeatureById(id).getGeometry().getCoordinates());
      v.setZoom(19);
    }, first.id);
    await rendered(page);
    const box = await page.locator("#dispatch-map").boundingBox();
    const pixel = await page.evaluate((id) => window.citysnap.map.getPixelFromCoordinate(window.citysnap.cases.getFeatureById(id).getGeometry().getCoordinates()), first.id);
    await page.mouse.click(box.x + pixel[0], box.y + pixel[1]);
    const panel = casePanel(page, first.id);
    await panel.locator('.action[data-action="return"]').waitFor({ timeout: 20_000 });
    await panel.locator('.action[data-action="return"] input[name="reason"]').fill("不属于本街道职责，请改派");
    await panel.locator('.action[data-action="return"] button[type="submit"]').click();
    await page.locator(`.case-panel[data-case-id="${first.id}"][data-state="returned"]`).waitFor({ timeout: 20_000 });
    await page.locator(`.case-panel[data-case-id="${first.id}"] .timeline li[data-action="return"]`).waitFor();
    const c = await api(base, `/v1/cases/${first.id}`, { token: dispatcherToken });
    if (c.state !== "returned") fail(`the API says ${c.state}`);
    const ev = await api(base, `/v1/cases/${first.id}/events`, { token: dispatcherToken });
    const ret = ev.events.findLast((e) => e.action === "return");
    if (ret?.reason !== "不属于本街道职责，请改派" || ret?.actor !== handler.id) fail(`return event ${JSON.stringify(ret)}`);
    await ctx.close();
  });
  await step("the returned case is back in the dispatcher's queue with a suggested next target", async () => {
    await dpage.locator(`.case-list [data-case="${first.id}"]`).waitFor({ timeout: 30_000 });
    await dpage.click(`.case-list [data-case="${first.id}"]`);
    await dpage.locator(`.case-panel[data-case-id="${first.id}"][data-state="returned"]`).waitFor({ timeout: 20_000 });
    const offered = await casePanel(dpage, first.id).locator(".candidates [data-target]").evaluateAll((bs) => bs.map((b) => b.dataset.target));
    const c = await api(base, `/v1/cases/${first.id}`, { token: dispatcherToken });
    const suggested = c.suggested_target?.code;
    if (!c.suggested_target?.name) fail(`the suggested target has no name: ${JSON.stringify(c.suggested_target)}`);
    if (!suggested || suggested === street(firstCase)) fail(`suggested target ${JSON.stringify(c.suggested_target)} after ${street(firstCase)} returned it`);
    if (offered[0] !== suggested) fail(`suggested ${suggested}, the panel offers ${offered} first`);
  });
  await step("a leader supervises (督办) the returned case from the panel", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN" });
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await page.goto(`${base}/`);
    await signInAs(page, "u-demo-leader");
    await page.locator(`.case-list [data-case="${first.id}"]`).waitFor({ timeout: 60_000 });
    await page.click(`.case-list [data-case="${first.id}"]`);
    const panel = casePanel(page, first.id);
    await panel.locator('.action[data-action="supervise"]').waitFor({ timeout: 20_000 });
    if (await panel.locator('.action[data-action="dispatch"], .action[data-action="return"]').count()) fail("a leader is offered dispatch or return");
    await panel.locator('.action[data-action="supervise"] input[name="opinion"]').fill("请今日内改派并处置");
    await panel.locator('.action[data-action="supervise"] button[type="submit"]').click();
    await panel.locator('.timeline li[data-action="supervise"]').filter({ hasText: "请今日内改派并处置" }).waitFor({ timeout: 20_000 });
    const c = await api(base, `/v1/cases/${first.id}`, { token: dispatcherToken });
    if (c.open_supervisions !== 1 || c.state !== "returned") fail(`after supervise: ${c.state}, ${c.open_supervisions} open supervisions`);
    await page.screenshot({ path: path.join(artefacts, "dispatch-supervised-1920.png") });
    await ctx.close();
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

  await step("without a configured basemap the console draws none", async () => {
    const config = await api(base, "/v1/console/config");
    if (config.basemap !== null) fail(`basemap ${JSON.stringify(config)}`);
    const page = await (await browser.newContext({ viewport: { width: 375, height: 812 } })).newPage();
    await page.goto(`${base}/#/report`);
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    const layers = await page.evaluate(() => window.citysnap.map.getLayers().getArray().filter((l) => l.get("basemap")).length);
    if (layers !== 0) fail(`${layers} basemap layers`);
    await page.context().close();
  });

  await step("a GCJ-02 basemap is warped onto WGS-84: its tile's dot lies under the WGS-84 point", async () => {
    // A tile server of our own on loopback (no network): white tiles with a magenta dot at
    // the GCJ-02 position of a reference point, cut in the GCJ-02 Web Mercator grid as AMap
    // and Tencent tiles are.
    const ref = JSON.parse(readFileSync(path.join(here, "datum-vectors.json"), "utf8")).pairs.find((p) => p.name === "Xinglongtai centre");
    const [gx, gy] = mercator(...ref.gcj02);
    const half = 20037508.342789244;
    const served = [];
    tileServer = http.createServer((req, res) => {
      const m = /^\/(\d+)\/(\d+)\/(\d+)\.svg$/.exec(req.url);
      if (!m) return void res.writeHead(404).end();
      const [z, x, y] = m.slice(1).map(Number);
      served.push(req.url);
      const size = (2 * half) / 2 ** z;
      const px = ((gx - (-half + x * size)) / size) * 256;
      const py = ((half - y * size - gy) / size) * 256;
      const dot = px > -20 && px < 276 && py > -20 && py < 276 ? `<circle cx="${px}" cy="${py}" r="10" fill="#ff00ff"/>` : "";
      res.writeHead(200, { "content-type": "image/svg+xml" });
      res.end(`<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#ffffff"/>${dot}</svg>`);
    });
    await new Promise((resolve) => tileServer.listen(0, "127.0.0.1", resolve));
    const tiles = `http://127.0.0.1:${tileServer.address().port}/{z}/{x}/{y}.svg`;
    const gbase = await startDemo("0", ["--basemap-url", tiles, "--basemap-datum", "gcj02", "--basemap-attribution", "© 测试底图 <b>"]);
    const config = await api(gbase, "/v1/console/config");
    if (config.basemap?.datum !== "gcj02" || config.basemap?.url !== tiles) fail(`config ${JSON.stringify(config)}`);

    const ctx = await browser.newContext({ viewport: { width: 800, height: 800 }, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await page.goto(`${gbase}/#/report`);
    await page.waitForFunction(() => document.getElementById("app")?.dataset.ready === "report");
    const at = await page.evaluate(([wgs, gcj]) => {
      const map = window.citysnap.map;
      const layer = map.getLayers().getArray().find((l) => l.get("basemap"));
      map.getView().setCenter(wgs);
      map.getView().setZoom(16);
      return { datum: layer?.get("basemap"), projection: layer?.getSource().getProjection().getCode(), wgs, gcj };
    }, [mercator(...ref.wgs84), mercator(...ref.gcj02)]);
    if (at.datum !== "gcj02" || at.projection !== "GCJ02:3857") fail(`basemap layer ${JSON.stringify(at)}`);
    await rendered(page);
    const pixels = await page.evaluate(([wgs, gcj]) => {
      const map = window.citysnap.map;
      return { wgs: map.getPixelFromCoordinate(wgs), naive: map.getPixelFromCoordinate(gcj) };
    }, [at.wgs, at.gcj]);
    const shot = await page.locator("#resident-map").screenshot();
    await writeFile(path.join(artefacts, "basemap-gcj02-800.png"), shot);
    // Magenta pixels around where the WGS-84 point is, and around where the dot would be
    // had the GCJ-02 tiles been drawn unshifted (some 500 m, hundreds of pixels, away).
    const counts = await page.evaluate(async ([png, points]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${png}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      return points.map(([x, y]) => {
        const d = g.getImageData(Math.round(x) - 5, Math.round(y) - 5, 11, 11).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 90 && d[i + 2] > 200) n++;
        return n;
      });
    }, [shot.toString("base64"), [pixels.wgs, pixels.naive]]);
    const apart = Math.hypot(pixels.wgs[0] - pixels.naive[0], pixels.wgs[1] - pixels.naive[1]);
    if (apart < 100) fail(`the GCJ-02 offset is only ${apart} px at zoom 16`);
    if (counts[0] < 60) fail(`only ${counts[0]} magenta pixels at the WGS-84 point; ${counts[1]} where unshifted tiles would put the dot`);
    if (counts[1] !== 0) fail(`${counts[1]} magenta pixels where unshifted tiles would put the dot`);
    if (!served.length) fail("no tile was requested");
    const credit = await page.locator(".ol-attribution").textContent();
    if (!credit.includes("© 测试底图 <b>")) fail(`attribution ${credit}`);
    await ctx.close();
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
