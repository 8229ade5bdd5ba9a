// The planner's view: the hexagon heat-map and the Gi* hotspots as vector tiles
// (`/tiles/hexbins`, `/tiles/hotspots`), resolution following the zoom unless overridden,
// period and category filters, a legend, the emerging-hotspot classes, the unit indicators
// from `/v1/stats` as a sortable table and a chart, and the selection as GeoJSON.

import VectorTileLayer from "ol/layer/VectorTile";
import VectorTileSource from "ol/source/VectorTile";
import MVT from "ol/format/MVT";
import { Fill, Stroke, Style } from "ol/style";
import { transformExtent } from "ol/proj";
import type Map from "ol/Map";
import type { FeatureLike } from "ol/Feature";

import { type Me, authHeaders, categories, get } from "./api";
import type VectorTile from "ol/VectorTile";
import TileState from "ol/TileState";
import { clear, el } from "./dom";
import { localName, t } from "./i18n";
import { makeMap } from "./map";

/// Count classes of the heat-map (YlOrRd).
const COUNT_CLASSES: Array<[number, string]> = [
  [1, "#ffffb2"],
  [3, "#fed976"],
  [10, "#feb24c"],
  [30, "#fd8d3c"],
  [100, "#f03b20"],
  [300, "#bd0026"],
];
/// Gi* significance −3…3 (99 %, 95 %, 90 % cold … hot).
const SIGNIFICANCE: Record<number, string> = {
  3: "#b2182b",
  2: "#ef8a62",
  1: "#fddbc7",
  [-1]: "#d1e5f0",
  [-2]: "#67a9cf",
  [-3]: "#2166ac",
};

export interface PlannerHandle {
  map: Map;
  hexbins: VectorTileLayer;
  hotspots: VectorTileLayer;
  /// Cells the renderer drew (styled) per layer since the last filter change.
  rendered: { hexbins: Set<string>; hotspots: Set<string> };
}

interface Selection {
  from: string;
  to: string;
  category: string;
  res: string;
}

function qs(sel: Selection): string {
  const q = new URLSearchParams();
  if (sel.from) q.set("from", sel.from);
  if (sel.to) q.set("to", sel.to);
  if (sel.category) q.set("category", sel.category);
  if (sel.res) q.set("res", sel.res);
  const s = q.toString();
  return s ? `?${s}` : "";
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export async function plannerPage(root: HTMLElement, me: Me | null): Promise<PlannerHandle> {
  clear(root);
  const mapBox = el("div", { class: "map", id: "planner-map" });
  const side = el("aside", { class: "side planner-side" });
  root.append(el("div", { class: "planner" }, mapBox, side));
  const rendered = { hexbins: new Set<string>(), hotspots: new Set<string>() };

  const today = new Date();
  const sel: Selection = { from: isoDay(new Date(today.getTime() - 365 * 86400e3)), to: isoDay(today), category: "", res: "" };

  const hexStyles = COUNT_CLASSES.map(
    ([, c]) => new Style({ fill: new Fill({ color: c + "cc" }), stroke: new Stroke({ color: "rgba(120,60,0,0.35)", width: 0.5 }) }),
  );
  const hexStyle = (f: FeatureLike) => {
    rendered.hexbins.add(String(f.get("cell")));
    const n = Number(f.get("count") ?? 0);
    let i = 0;
    while (i + 1 < COUNT_CLASSES.length && n >= COUNT_CLASSES[i + 1][0]) i++;
    return hexStyles[i];
  };
  const hotStyles: Record<number, Style> = {};
  for (const [k, c] of Object.entries(SIGNIFICANCE)) {
    hotStyles[Number(k)] = new Style({ fill: new Fill({ color: c + "b3" }), stroke: new Stroke({ color: c, width: 1.2 }) });
  }
  const hotStyle = (f: FeatureLike) => {
    rendered.hotspots.add(String(f.get("cell")));
    return hotStyles[Number(f.get("significance"))];
  };
  const source = (layer: string) => {
    const s = new VectorTileSource({ format: new MVT(), url: `/tiles/${layer}/{z}/{x}/{y}.mvt${qs(sel)}`, minZoom: 7, maxZoom: layer === "hexbins" ? 17 : 14 });
    // Tiles with the bearer token, so that a planner sees every count (public tiles leave
    // out small ones); the loader is OpenLayers' documented custom-loader pattern.
    s.setTileLoadFunction((tile, url) => {
      const vt = tile as VectorTile<FeatureLike>;
      vt.setLoader((extent, _resolution, projection) => {
        fetch(url, { headers: authHeaders() })
          .then((r) => (r.status === 204 ? new ArrayBuffer(0) : r.ok ? r.arrayBuffer() : Promise.reject(r.status)))
          .then((data) => {
            const features = data.byteLength ? vt.getFormat().readFeatures(data, { extent, featureProjection: projection }) : [];
            vt.setFeatures(features as FeatureLike[]);
          })
          .catch(() => vt.setState(TileState.ERROR));
      });
    });
    return s;
  };
  const hexbins = new VectorTileLayer({ source: source("hexbins"), style: hexStyle, opacity: 0.85, properties: { name: "hexbins" }, zIndex: 5 });
  const hotspots = new VectorTileLayer({ source: source("hotspots"), style: hotStyle, visible: false, properties: { name: "hotspots" }, zIndex: 6 });
  const map = await makeMap(mapBox, [hexbins, hotspots]);

  const refresh = () => {
    rendered.hexbins.clear();
    rendered.hotspots.clear();
    hexbins.setSource(source("hexbins"));
    hotspots.setSource(source("hotspots"));
    void loadIndicators();
  };

  // Controls.
  const cats = await categories();
  const form = el("form", { class: "filters" });
  const fromIn = el("input", { type: "date", name: "from", value: sel.from, "aria-label": t("from") }) as HTMLInputElement;
  const toIn = el("input", { type: "date", name: "to", value: sel.to, "aria-label": t("to") }) as HTMLInputElement;
  const catSel = el("select", { name: "category", "aria-label": t("category") }, el("option", { value: "" }, `${t("category")}: ${t("all")}`)) as HTMLSelectElement;
  for (const c of cats) catSel.append(el("option", { value: c.code }, `${c.code} ${localName(c.name, c.name_en)}`));
  const resSel = el("select", { name: "res", "aria-label": t("resolution") }, el("option", { value: "" }, `${t("resolution")}: ${t("res_auto")}`)) as HTMLSelectElement;
  for (let r = 7; r <= 12; r++) resSel.append(el("option", { value: String(r) }, `H3 ${r}`));
  form.append(fromIn, toIn, catSel, resSel, el("button", { type: "submit" }, t("apply")));
  form.onsubmit = (e) => {
    e.preventDefault();
    Object.assign(sel, { from: fromIn.value, to: toIn.value, category: catSel.value, res: resSel.value });
    refresh();
  };

  const layers = el("fieldset", { class: "layers" });
  const toggle = (label: string, layer: VectorTileLayer, on: boolean, name: string) => {
    const box = el("input", { type: "checkbox", name, ...(on ? { checked: "" } : {}) }) as HTMLInputElement;
    box.onchange = () => layer.setVisible(box.checked);
    layers.append(el("label", {}, box, label));
  };
  toggle(t("layer_hexbins"), hexbins, true, "hexbins");
  toggle(t("layer_hotspots"), hotspots, false, "hotspots");

  const legend = el("div", { class: "legend planner-legend" });
  legend.append(el("strong", {}, t("count")));
  for (const [n, c] of COUNT_CLASSES) legend.append(el("span", {}, el("i", { style: `background:${c}` }), `≥ ${n}`));
  legend.append(el("strong", {}, "Gi*"));
  for (const k of [3, 2, 1, -1, -2, -3]) {
    const conf = { 3: "99%", 2: "95%", 1: "90%" }[Math.abs(k) as 1 | 2 | 3];
    legend.append(el("span", {}, el("i", { style: `background:${SIGNIFICANCE[k]}` }), `${k > 0 ? t("hot") : t("cold")} ${conf}`));
  }

  const download = el("button", { type: "button", "data-testid": "download" }, t("download"));
  download.onclick = async () => {
    const extent = transformExtent(map.getView().calculateExtent(map.getSize()), "EPSG:3857", "EPSG:4326");
    const zoom = map.getView().getZoom() ?? 11;
    const res = sel.res || String(Math.max(5, Math.min(12, Math.round(zoom - 3))));
    const q = new URLSearchParams({ res, bbox: extent.map((v) => v.toFixed(5)).join(",") });
    if (sel.from) q.set("from", sel.from);
    if (sel.to) q.set("to", sel.to);
    if (sel.category) q.set("category", sel.category);
    const r = await fetch(`/v1/analytics/hexbins?${q}`);
    const blob = await r.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: `citysnap-hexbins-r${res}.geojson` });
    document.body.append(a);
    a.click();
    a.remove();
  };

  const indicators = el("section", { class: "indicators" }, el("h3", {}, t("indicators")));
  const emerging = el("section", { class: "emerging" }, el("h3", {}, t("emerging")));
  side.append(el("h2", {}, t("planner_title")), form, layers, legend, download, indicators, emerging);

  let sortKey = "received";
  let sortDown = true;
  let groupBy: "unit" | "category" = "unit";
  const columns: Array<[string, string, (v: number | null) => string]> = [
    ["key", t("unit"), (v) => String(v ?? "")],
    ["received", t("received"), (v) => String(v ?? 0)],
    ["closure_rate", t("closed_rate"), pct],
    ["on_time_rate", t("ontime_rate"), pct],
    ["rework_rate", t("rework_rate"), pct],
    ["mean_satisfaction", t("satisfaction"), (v) => (v == null ? "–" : v.toFixed(2))],
  ];
  async function loadIndicators() {
    clear(indicators);
    indicators.append(el("h3", {}, t("indicators")));
    if (!me || !["planner", "leader", "dispatcher", "admin"].includes(me.role)) {
      indicators.append(el("p", { class: "hint" }, t("need_analyst")));
      return;
    }
    const by = el("div", { class: "group-by" });
    for (const g of ["unit", "category"] as const) {
      const b = el("button", { type: "button", "aria-pressed": String(g === groupBy) }, g === "unit" ? t("group_by_unit") : t("group_by_category"));
      b.onclick = () => { groupBy = g; void loadIndicators(); };
      by.append(b);
    }
    indicators.append(by);
    let body: { groups: Array<Record<string, number | null | string>> };
    try {
      body = await get(`/v1/stats?from=${sel.from}&to=${sel.to}&group_by=${groupBy}`);
    } catch (e) {
      indicators.append(el("p", { class: "error" }, String(e)));
      return;
    }
    const rows = body.groups.filter((g) => Number(g.received) > 0);
    rows.sort((a, b) => {
      const x = a[sortKey] ?? -1;
      const y = b[sortKey] ?? -1;
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sortDown ? -c : c;
    });
    const table = el("table", { class: "sortable", "data-testid": "indicators" });
    const head = el("tr");
    for (const [k, label] of columns) {
      const th = el("th", { scope: "col", "aria-sort": k === sortKey ? (sortDown ? "descending" : "ascending") : "none" });
      const b = el("button", { type: "button" }, label);
      b.onclick = () => { sortDown = k === sortKey ? !sortDown : true; sortKey = k; void loadIndicators(); };
      th.append(b);
      head.append(th);
    }
    table.append(el("thead", {}, head));
    const tbody = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      for (const [k, , fmt] of columns) tr.append(el("td", {}, fmt(r[k] as number | null)));
      tbody.append(tr);
    }
    table.append(tbody);
    indicators.append(chart(rows.slice(0, 12)), table);
  }
  void loadIndicators();

  // Emerging hotspot classes over the last ten months, at a coarse resolution.
  void (async () => {
    try {
      const r = await get<{ features: Array<{ properties: { pattern: string } }> }>(
        `/v1/analytics/hotspots/emerging?res=8&period=month`,
      );
      const counts: Record<string, number> = {};
      for (const f of r.features) counts[f.properties.pattern] = (counts[f.properties.pattern] ?? 0) + 1;
      const list = el("ul", { class: "patterns" });
      for (const [p, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
        if (p !== "no_pattern") list.append(el("li", {}, el("span", {}, p.replaceAll("_", " ")), el("b", {}, String(n))));
      }
      emerging.append(list);
    } catch (e) {
      emerging.append(el("p", { class: "hint" }, String(e)));
    }
  })();

  return { map, hexbins, hotspots, rendered };
}

function pct(v: number | null): string {
  return v == null ? "–" : `${(v * 100).toFixed(1)}%`;
}

/// 结案率 and 按期结案率 per group as paired horizontal bars (SVG).
function chart(rows: Array<Record<string, number | null | string>>): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const rowH = 18;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 320 ${rows.length * rowH + 10}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${t("closed_rate")} / ${t("ontime_rate")}`);
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 11));
    label.setAttribute("font-size", "10");
    label.textContent = String(r.key).slice(-9);
    svg.append(label);
    (["closure_rate", "on_time_rate"] as const).forEach((k, j) => {
      const v = Number(r[k] ?? 0);
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", "70");
      bar.setAttribute("y", String(y + j * 7));
      bar.setAttribute("height", "6");
      bar.setAttribute("width", String(Math.max(0, v) * 240));
      bar.setAttribute("fill", j === 0 ? "#3949ab" : "#00897b");
      svg.append(bar);
    });
  });
  return svg;
}
