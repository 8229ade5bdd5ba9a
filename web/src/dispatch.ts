// The dispatcher console: a live map of open cases coloured by warning level (clustered
// when zoomed out) over the deployment's own boundaries, the queue of cases waiting for
// dispatch and the red cases, filters, and the case panel. Live updates come from
// `GET /v1/events/stream`; after every (re)connection the lists are read again.

import Feature from "ol/Feature";
import Point from "ol/geom/Point";
import VectorLayer from "ol/layer/Vector";
import VectorSource from "ol/source/Vector";
import Cluster from "ol/source/Cluster";
import { Circle, Fill, Stroke, Style, Text } from "ol/style";
import { fromLonLat } from "ol/proj";
import type Map from "ol/Map";
import type { FeatureLike } from "ol/Feature";

import { type CaseItem, type Me, allCases, categories, get, streamEvents } from "./api";
import { OPEN_STATES, STATE_NAMES } from "./actions";
import { type CaseDetail, name2, showCase, targetCode } from "./casepanel";
import { clear, el, fmtTime } from "./dom";
import { localName, t } from "./i18n";
import { makeMap } from "./map";

const COLOURS: Record<string, string> = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828" };
const RANK: Record<string, number> = { green: 0, yellow: 1, red: 2 };

interface Filters {
  category: string;
  unit: string;
  state: string;
  from: string;
  to: string;
}

export interface DispatchHandle {
  map: Map;
  cases: VectorSource;
  stop: () => void;
}

function caseFeature(c: CaseItem): Feature<Point> {
  const f = new Feature({ geometry: new Point(fromLonLat([c.location.lon, c.location.lat])) });
  f.setId(c.case_id);
  f.setProperties({ case_id: c.case_id, warning: c.warning_level, state: c.state, category: c.category, submitted_at: c.submitted_at });
  return f;
}

const styleCache: Record<string, Style> = {};
function clusterStyle(f: FeatureLike): Style {
  const members = (f.get("features") as Feature[]) ?? [f];
  const worst = members.reduce((w, m) => (RANK[m.get("warning")] > RANK[w] ? m.get("warning") : w), "green");
  const n = members.length;
  const key = `${worst}:${n > 1 ? n : 1}`;
  styleCache[key] ??= new Style({
    image: new Circle({
      radius: n > 1 ? Math.min(10 + Math.log2(n) * 3, 26) : 7,
      fill: new Fill({ color: COLOURS[worst] }),
      stroke: new Stroke({ color: "#fff", width: 2 }),
    }),
    text: n > 1 ? new Text({ text: String(n), fill: new Fill({ color: "#fff" }), font: "bold 12px sans-serif" }) : undefined,
  });
  return styleCache[key];
}

export async function dispatchPage(root: HTMLElement, me: Me | null): Promise<DispatchHandle | null> {
  clear(root);
  const mapBox = el("div", { class: "map", id: "dispatch-map" });
  const side = el("aside", { class: "side" });
  root.append(el("div", { class: "dispatch" }, mapBox, side));

  const cases = new VectorSource<Feature<Point>>();
  const cluster = new Cluster({ distance: 40, minDistance: 8, source: cases });
  const caseLayer = new VectorLayer({ source: cluster, style: clusterStyle, properties: { name: "cases" }, zIndex: 10 });
  const map = await makeMap(mapBox, [caseLayer]);
  // Clusters when zoomed out; every case on its own from street level in.
  map.getView().on("change:resolution", () => cluster.setDistance((map.getView().getZoom() ?? 0) >= 15 ? 0 : 40));
  const legend = el(
    "div",
    { class: "legend" },
    ...["green", "yellow", "red"].map((w) =>
      el("span", {}, el("i", { style: `background:${COLOURS[w]}` }), t(`legend_${w}` as "legend_green")),
    ),
  );
  const status = el("span", { class: "live", "data-testid": "live" }, "…");
  mapBox.append(legend, status);

  if (!me || !["dispatcher", "leader", "admin", "handler", "grid_worker"].includes(me.role)) {
    side.append(el("p", { class: "hint" }, t("need_staff")));
    return { map, cases, stop: () => {} };
  }

  const cats = await categories();
  const filters: Filters = { category: "", unit: "", state: "", from: "", to: "" };
  const form = el("form", { class: "filters", "aria-label": t("filters") });
  const catSel = el("select", { name: "category" }, el("option", { value: "" }, `${t("category")}: ${t("all")}`)) as HTMLSelectElement;
  for (const c of cats) catSel.append(el("option", { value: c.code }, `${c.code} ${localName(c.name, c.name_en)}`));
  const stateSel = el("select", { name: "state" }, el("option", { value: "" }, `${t("state")}: ${t("all")}`)) as HTMLSelectElement;
  for (const s of OPEN_STATES) stateSel.append(el("option", { value: s }, name2(STATE_NAMES[s], s)));
  const unitIn = el("input", { name: "unit", placeholder: t("unit"), inputmode: "numeric", size: "10" }) as HTMLInputElement;
  const fromIn = el("input", { name: "from", type: "date", "aria-label": t("from") }) as HTMLInputElement;
  const toIn = el("input", { name: "to", type: "date", "aria-label": t("to") }) as HTMLInputElement;
  form.append(catSel, stateSel, unitIn, fromIn, toIn, el("button", { type: "submit" }, t("apply")));
  const tabs = el("div", { class: "tabs", role: "tablist" });
  const lists = el("div", { class: "lists" });
  const panel = el("section", { class: "case-panel", "aria-live": "polite" });
  side.append(form, tabs, lists, panel);

  const queue = el("ul", { class: "case-list", "data-list": "queue" });
  const red = el("ul", { class: "case-list", "data-list": "red" });
  const tabQueue = el("button", { type: "button", role: "tab", "aria-selected": "true" }, t("queue"));
  const tabRed = el("button", { type: "button", role: "tab", "aria-selected": "false" }, t("red_cases"));
  tabs.append(tabQueue, tabRed);
  lists.append(queue, red);
  red.hidden = true;
  tabQueue.onclick = () => { queue.hidden = false; red.hidden = true; tabQueue.setAttribute("aria-selected", "true"); tabRed.setAttribute("aria-selected", "false"); };
  tabRed.onclick = () => { queue.hidden = true; red.hidden = false; tabQueue.setAttribute("aria-selected", "false"); tabRed.setAttribute("aria-selected", "true"); };

  const inPeriod = (c: CaseItem) =>
    (!filters.from || c.submitted_at.slice(0, 10) >= filters.from) && (!filters.to || c.submitted_at.slice(0, 10) <= filters.to);

  const listItem = (c: CaseItem) => {
    const b = el(
      "button",
      { type: "button", class: `case-item ${c.warning_level}`, "data-case": c.case_id },
      el("span", { class: "id" }, c.case_id),
      el("span", {}, `${c.category} · ${name2(STATE_NAMES[c.state], c.state)}`),
      el("time", {}, fmtTime(c.submitted_at)),
    );
    b.onclick = () => open(c.case_id);
    return el("li", {}, b);
  };

  const query = (extra: Record<string, string>) => {
    const q = new URLSearchParams(extra);
    if (filters.category) q.set("category", filters.category);
    if (filters.unit) q.set("unit", filters.unit);
    return q;
  };

  const reload = async () => {
    const states = filters.state || OPEN_STATES.join(",");
    const [open, waiting, reds] = await Promise.all([
      allCases(query({ state: states })),
      allCases(query({ state: "submitted,verified,returned,reopened" }), 500),
      allCases(query({ warning: "red", state: OPEN_STATES.join(",") }), 500),
    ]);
    cases.clear();
    cases.addFeatures(open.filter(inPeriod).map(caseFeature));
    clear(queue);
    waiting.filter(inPeriod).slice(-200).reverse().forEach((c) => queue.append(listItem(c)));
    clear(red);
    reds.filter(inPeriod).slice(-200).reverse().forEach((c) => red.append(listItem(c)));
    root.dataset.openCases = String(cases.getFeatures().length);
  };

  form.onsubmit = async (e) => {
    e.preventDefault();
    Object.assign(filters, { category: catSel.value, unit: unitIn.value.trim(), state: stateSel.value, from: fromIn.value, to: toIn.value });
    await reload();
  };

  // Picking a dispatch target on the map: the units under the click, finest first.
  let picking: ((code: string | null) => void) | null = null;
  const chooser = el("div", { class: "unit-chooser", hidden: "" });
  mapBox.append(chooser);
  map.on("singleclick", (evt) => {
    if (picking) {
      const found: Array<{ code: string; name: string; level: string }> = [];
      map.forEachFeatureAtPixel(
        evt.pixel,
        (f) => {
          const code = f.get("code");
          if (code && !found.some((x) => x.code === code)) found.push({ code, name: f.get("name"), level: f.get("level") });
        },
        { layerFilter: (l) => Boolean(l.get("boundary")), hitTolerance: 2 },
      );
      clear(chooser);
      chooser.hidden = false;
      const done = picking;
      for (const u of found.filter((u) => u.level !== "district").sort((a, b) => a.code.length - b.code.length)) {
        const b = el("button", { type: "button", "data-unit": u.code, "data-level": u.level }, `${u.name} (${u.code})`);
        b.onclick = () => { chooser.hidden = true; picking = null; mapBox.classList.remove("picking"); done(u.code); };
        chooser.append(b);
      }
      const cancel = el("button", { type: "button", class: "link" }, t("cancel"));
      cancel.onclick = () => { chooser.hidden = true; picking = null; mapBox.classList.remove("picking"); done(null); };
      chooser.append(cancel);
      return;
    }
    const hit = map.forEachFeatureAtPixel(evt.pixel, (f) => f, { layerFilter: (l) => l === caseLayer });
    if (!hit) return;
    const members = hit.get("features") as Feature[];
    if (members.length === 1) void open(members[0].get("case_id"));
    else map.getView().animate({ center: map.getCoordinateFromPixel(evt.pixel), zoom: (map.getView().getZoom() ?? 12) + 2 });
  });

  const hooks = {
    pickUnit: () =>
      new Promise<string | null>((resolve) => {
        picking = resolve;
        mapBox.classList.add("picking");
        clear(chooser);
        chooser.hidden = false;
        chooser.append(el("p", {}, t("dispatch_click")));
      }),
    changed: (c: CaseDetail) => upsert(c),
  };

  const upsert = (c: CaseDetail | CaseItem) => {
    const existing = cases.getFeatureById(c.case_id);
    if (existing) cases.removeFeature(existing);
    if (OPEN_STATES.includes(c.state)) cases.addFeature(caseFeature(c as CaseItem));
    root.dataset.openCases = String(cases.getFeatures().length);
    for (const list of [queue, red]) list.querySelector(`[data-case="${c.case_id}"]`)?.parentElement?.remove();
    const item = c as CaseItem;
    if (["submitted", "verified", "returned", "reopened"].includes(c.state)) queue.prepend(listItem(item));
    if (c.warning_level === "red" && OPEN_STATES.includes(c.state)) red.prepend(listItem(item));
    if (panel.dataset.caseId === c.case_id && !picking) void showCase(panel, me, c.case_id, hooks);
  };

  const open = async (id: string) => {
    await showCase(panel, me, id, hooks);
    const f = cases.getFeatureById(id);
    if (f) map.getView().animate({ center: f.getGeometry()!.getCoordinates(), zoom: Math.max(map.getView().getZoom() ?? 12, 15) });
  };

  await reload();
  let first = true;
  const stop = streamEvents(
    async (data) => {
      const n = data as { case_id: string };
      try {
        upsert(await get<CaseDetail>(`/v1/cases/${n.case_id}`));
      } catch {
        /* gone from scope */
      }
    },
    (live) => {
      status.textContent = live ? `● ${t("live")}` : t("offline");
      status.className = live ? "live on" : "live off";
      root.dataset.live = String(live);
      if (live && !first) void reload();
      first = false;
    },
  );
  return { map, cases, stop };
}

export { targetCode };
