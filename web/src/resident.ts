// The resident's form, mobile first: pick the place on the map or use the phone's location,
// choose the category from the tree, describe, attach a photo (resized here before upload),
// send; then the follow-up code and link (kept by this browser, see followup.ts), the progress
// timeline and, once closed, the rating form. Out-of-area places and every other refusal are
// said in plain words.

import Feature from "ol/Feature";
import Point from "ol/geom/Point";
import VectorLayer from "ol/layer/Vector";
import VectorSource from "ol/source/Vector";
import { Circle, Fill, Stroke, Style } from "ol/style";
import { fromLonLat, toLonLat } from "ol/proj";
import type Map from "ol/Map";

import { ApiError, type Problem, categories, get, token } from "./api";
import { followLink, myReports, rememberFollowUp, showFollowUp } from "./followup";
import { clear, el } from "./dom";
import { currentLang, localName, t } from "./i18n";
import { makeMap } from "./map";

export interface ResidentHandle {
  map: Map;
  pick: (lon: number, lat: number) => Promise<void>;
}

const MAX_EDGE = 1600;

/// Scales a photo down to at most 1600 px on its longer edge and re-encodes it as JPEG, so a
/// 12-megapixel phone picture travels as a few hundred kilobytes.
export async function resizePhoto(file: File): Promise<Blob> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d")!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode"))), "image/jpeg", 0.85),
  );
}

export function refusal(p: Problem): string {
  if (p.code === "out_of_area") {
    const km = typeof p.distance_km === "number" ? p.distance_km : Number(p.distance_m ?? 0) / 1000;
    const area = String(p.service_area ?? "");
    return currentLang() === "zh"
      ? `${t("out_of_area")}：您距离${area}约 ${km.toFixed(km < 10 ? 1 : 0)} 公里。`
      : `${t("out_of_area")}: you are ${km.toFixed(km < 10 ? 1 : 0)} km from ${area}.`;
  }
  return `${p.detail ?? p.title ?? p.code}`;
}

export async function residentPage(root: HTMLElement): Promise<ResidentHandle> {
  clear(root);
  const mapBox = el("div", { class: "map resident-map", id: "resident-map" });
  const form = el("form", { class: "report-form", novalidate: "" });
  const result = el("section", { class: "report-result", "aria-live": "polite" });
  root.append(el("div", { class: "resident" }, el("h2", {}, t("report_title")), mapBox, form, result, myReports()));

  const pin = new VectorSource<Feature<Point>>();
  const pinLayer = new VectorLayer({
    source: pin,
    zIndex: 10,
    style: new Style({ image: new Circle({ radius: 9, fill: new Fill({ color: "#d81b60" }), stroke: new Stroke({ color: "#fff", width: 3 }) }) }),
  });
  const map = await makeMap(mapBox, [pinLayer]);
  let place: { lon: number; lat: number } | null = null;
  const where = el("p", { class: "where", "data-testid": "where" }, t("report_where_hint"));
  const refusalBox = el("p", { class: "error", role: "alert", "data-testid": "refusal" });

  const pick = async (lon: number, lat: number) => {
    place = { lon, lat };
    pin.clear();
    pin.addFeature(new Feature(new Point(fromLonLat([lon, lat]))));
    refusalBox.textContent = "";
    where.textContent = `${lon.toFixed(5)}, ${lat.toFixed(5)}`;
    try {
      const r = await get<{ units: Record<string, { name: string } | null> }>(`/v1/resolve?lon=${lon}&lat=${lat}`);
      where.textContent = ["street", "community", "grid"].map((l) => r.units[l]?.name).filter(Boolean).join(" · ");
    } catch (e) {
      if (e instanceof ApiError) refusalBox.textContent = refusal(e.problem);
    }
  };
  map.on("singleclick", (e) => {
    const [lon, lat] = toLonLat(e.coordinate);
    void pick(lon, lat);
  });

  const locate = el("button", { type: "button", class: "secondary" }, t("use_location"));
  locate.onclick = () => {
    if (!navigator.geolocation) {
      refusalBox.textContent = t("location_failed");
      return;
    }
    locate.textContent = t("locating");
    navigator.geolocation.getCurrentPosition(
      (p) => {
        locate.textContent = t("use_location");
        map.getView().animate({ center: fromLonLat([p.coords.longitude, p.coords.latitude]), zoom: 16 });
        void pick(p.coords.longitude, p.coords.latitude);
      },
      () => {
        locate.textContent = t("use_location");
        refusalBox.textContent = t("location_failed");
      },
      { enableHighAccuracy: true, timeout: 15000 },
    );
  };

  // The category tree: major categories as groups, their minor ones to choose.
  const cats = await categories();
  const category = el("select", { name: "category", required: "", id: "category" }, el("option", { value: "" }, t("choose_category"))) as HTMLSelectElement;
  for (const major of cats.filter((c) => !c.parent)) {
    const minors = cats.filter((c) => c.parent === major.code);
    if (!minors.length) {
      category.append(el("option", { value: major.code }, localName(major.name, major.name_en)));
      continue;
    }
    const group = el("optgroup", { label: localName(major.name, major.name_en) });
    for (const m of minors) group.append(el("option", { value: m.code }, localName(m.name, m.name_en)));
    category.append(group);
  }
  const description = el("textarea", { name: "description", rows: "3", required: "", maxlength: "2000", id: "description" }) as HTMLTextAreaElement;
  const photo = el("input", { type: "file", name: "photo", accept: "image/*", capture: "environment", id: "photo" }) as HTMLInputElement;
  const phone = el("input", { type: "tel", name: "phone", inputmode: "tel", autocomplete: "tel", id: "phone" }) as HTMLInputElement;
  const send = el("button", { type: "submit", class: "primary" }, t("report_submit"));
  form.append(
    el("label", {}, t("report_where")), where, locate, refusalBox,
    el("label", { for: "category" }, t("report_category")), category,
    el("label", { for: "description" }, t("report_description")), description,
    el("label", { for: "photo" }, t("report_photo")), photo,
    el("label", { for: "phone" }, t("report_phone")), phone,
    send,
  );

  form.onsubmit = async (e) => {
    e.preventDefault();
    refusalBox.textContent = "";
    if (!place) return void (refusalBox.textContent = t("pick_first"));
    if (!category.value) return void (refusalBox.textContent = t("choose_category"));
    if (!description.value.trim()) return void (refusalBox.textContent = t("describe_first"));
    send.disabled = true;
    send.textContent = t("report_sending");
    try {
      // Anonymous or signed in, the reporter follows the case and rates it through the
      // follow-up secret; the phone number is only the contact the handling unit calls back.
      const report: Record<string, unknown> = { description: description.value.trim(), category: category.value, location: place };
      if (phone.value.trim()) report.contact = { phone: phone.value.trim() };
      const body = new FormData();
      body.append("report", new Blob([JSON.stringify(report)], { type: "application/json" }));
      if (photo.files?.[0]) body.append("photo", await resizePhoto(photo.files[0]), "photo.jpg");
      const headers: Record<string, string> = token() ? { authorization: `Bearer ${token()}` } : {};
      const r = await fetch("/v1/reports", { method: "POST", body, headers });
      const answer = await r.json();
      if (!r.ok) throw new ApiError({ status: r.status, ...answer });
      await showProgress(result, answer.case_id, answer.follow_up_secret);
      form.parentElement?.querySelector(".my-reports")?.replaceWith(myReports());
    } catch (err) {
      refusalBox.textContent = err instanceof ApiError ? refusal(err.problem) : String(err);
    } finally {
      send.disabled = false;
      send.textContent = t("report_submit");
    }
  };
  return { map, pick };
}

/// After intake: the case number, the follow-up code and link (shown once, kept by this
/// browser), then the progress through the follow-up secret, for an anonymous reporter and
/// a signed-in resident alike.
async function showProgress(box: HTMLElement, caseId: string, secret: string | undefined): Promise<void> {
  clear(box);
  const head = el("div", { class: "report-ok" }, el("p", { class: "ok" }, `${t("report_ok")} `, el("strong", { "data-testid": "case-id" }, caseId)));
  if (!secret) {
    box.append(head);
    return;
  }
  rememberFollowUp(secret, caseId);
  const link = followLink(secret);
  head.append(
    el("p", { class: "hint" }, t("follow_keep")),
    el("p", { class: "secret" }, `${t("follow_link")}: `, el("a", { href: link, "data-testid": "follow-link" }, link)),
  );
  const progress = el("div", { class: "progress" });
  box.append(head, progress);
  await showFollowUp(progress, secret);
}
