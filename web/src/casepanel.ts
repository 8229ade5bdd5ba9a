// The case panel: what the case is, its photos and timeline, and exactly the actions the
// signed-in role may take on it now.

import { ApiError, type Me, authHeaders, get, post, request } from "./api";
import { ACTION_NAMES, NEEDS_REASON, STATE_NAMES, allowedActions } from "./actions";
import { clear, el, fmtTime } from "./dom";
import { currentLang, t } from "./i18n";

export interface CaseDetail {
  case_id: string;
  state: string;
  kind: string;
  category: string;
  warning_level: string;
  deadline?: string | null;
  unit?: { unit?: string; department?: string } | null;
  target?: Target | null;
  assignee?: string | null;
  open_supervisions: number;
  reporters?: number;
  location: { lon: number; lat: number };
  units: Record<string, Target | null>;
  duplicate_candidates?: Array<{ case_id: string; distance_m?: number; state?: string }>;
  dispatch_candidates?: Target[];
  suggested_target?: Target | null;
}

/** Where a case is sent, as the API describes it. */
export interface Target {
  kind: "unit" | "department";
  code: string;
  name?: string | null;
  level?: string | null;
}

export interface TimelineEvent {
  seq: number;
  at: string;
  action: string;
  role?: string;
  actor?: string;
  reason?: string | null;
  payload?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export const name2 = (pair: [string, string] | undefined, fallback: string) =>
  pair ? pair[currentLang() === "zh" ? 0 : 1] : fallback;

export const targetCode = (u: CaseDetail["unit"]) => (u ? u.unit ?? u.department ?? "" : "");

/** A target as people read it: its name, with the code. */
export const targetLabel = (t: Target | null | undefined) => (t ? (t.name ? `${t.name} ${t.code}` : t.code) : "");

/// A photo the API serves only with the bearer token: fetched, shown from a blob URL.
async function photo(path: string): Promise<HTMLElement> {
  const img = el("img", { alt: t("photos"), class: "photo", loading: "lazy" }) as HTMLImageElement;
  try {
    const r = await fetch(path, { headers: authHeaders() });
    if (r.ok) img.src = URL.createObjectURL(await r.blob());
  } catch {
    /* leave the frame empty */
  }
  return img;
}

export function photoKeys(events: TimelineEvent[]): string[] {
  const keys: string[] = [];
  for (const e of events) {
    const p = e.payload ?? {};
    for (const k of ["after_photos", "photos"]) {
      const v = (p as Record<string, unknown>)[k];
      if (Array.isArray(v)) keys.push(...v.filter((x): x is string => typeof x === "string"));
    }
  }
  return keys;
}

export function timelineList(events: TimelineEvent[]): HTMLElement {
  const list = el("ol", { class: "timeline" });
  for (const e of events) {
    // Staff read the payload; the reporter's public timeline carries `details` instead.
    const p = (e.payload ?? e.details ?? {}) as Record<string, unknown>;
    const detail = [
      e.reason,
      typeof p.note === "string" ? p.note : null,
      typeof p.text === "string" ? p.text : null,
      typeof p.opinion === "string" ? p.opinion : null,
      typeof p.comment === "string" && p.comment ? p.comment : null,
      typeof p.score === "number" ? "★".repeat(p.score) : null,
      p.target && typeof p.target === "object" ? Object.values(p.target as object).join("") : null,
      p.unit && typeof p.unit === "object" ? Object.values(p.unit as object).join("") : null,
    ]
      .filter(Boolean)
      .join(" · ");
    list.append(
      el(
        "li",
        { "data-action": e.action },
        el("time", { datetime: e.at }, fmtTime(e.at)),
        el("strong", {}, name2(ACTION_NAMES[e.action], e.action)),
        detail ? el("span", { class: "detail" }, detail) : null,
      ),
    );
  }
  return list;
}

export interface PanelHooks {
  /// The dispatcher wants to pick the target on the map; resolves with a unit code.
  pickUnit?: () => Promise<string | null>;
  changed: (c: CaseDetail) => void;
}

export async function showCase(box: HTMLElement, me: Me, caseId: string, hooks: PanelHooks): Promise<void> {
  clear(box);
  box.append(el("p", {}, t("loading")));
  let c: CaseDetail;
  let events: TimelineEvent[];
  let report: { description?: string; media?: Array<{ seq: number; kind: string }>; category?: { name?: string } };
  try {
    [c, { events }, report] = await Promise.all([
      get<CaseDetail>(`/v1/cases/${caseId}`),
      get<{ events: TimelineEvent[] }>(`/v1/cases/${caseId}/events`),
      get<typeof report>(`/v1/reports/${caseId}`),
    ]);
  } catch (e) {
    clear(box);
    box.append(el("p", { class: "error" }, e instanceof Error ? e.message : t("error")));
    return;
  }
  clear(box);
  box.dataset.caseId = c.case_id;
  box.dataset.state = c.state;
  box.dataset.warning = c.warning_level;
  const head = el(
    "header",
    { class: "case-head" },
    el("h2", {}, `${t("case")} ${c.case_id}`),
    el("span", { class: `badge ${c.warning_level}`, "data-testid": "warning" }, t(`legend_${c.warning_level}` as "legend_green")),
    el("span", { class: "badge state", "data-testid": "state" }, name2(STATE_NAMES[c.state], c.state)),
  );
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", {}, t("category")),
    el("dd", {}, `${c.category} ${report.category?.name ?? ""}`),
    el("dt", {}, t("target")),
    el("dd", { "data-testid": "target" }, targetLabel(c.target) || targetCode(c.unit) || t("none")),
    el("dt", {}, t("assignee")),
    el("dd", {}, c.assignee ?? t("none")),
    el("dt", {}, t("deadline")),
    el("dd", {}, fmtTime(c.deadline)),
    el("dt", {}, t("reporters")),
    el("dd", {}, String(c.reporters ?? 1)),
  );
  box.append(head, el("p", { class: "description" }, report.description ?? ""), facts);

  const photos = el("div", { class: "photos" });
  for (const m of report.media ?? []) {
    if (m.kind === "photo") photos.append(await photo(`/v1/reports/${caseId}/media/${m.seq}`));
  }
  for (const key of photoKeys(events)) photos.append(await photo(`/v1/cases/${caseId}/media/${key}`));
  if (photos.childElementCount) box.append(el("h3", {}, t("photos")), photos);

  const actions = allowedActions(me.role, c.state, c.kind, c.open_supervisions);
  const actionBox = el("section", { class: "actions" }, el("h3", {}, t("actions")));
  if (!actions.length) actionBox.append(el("p", { class: "hint" }, t("no_actions")));
  const message = el("p", { class: "error", role: "alert" });
  const act = async (body: Record<string, unknown>) => {
    message.textContent = "";
    try {
      const after = await post<CaseDetail>(`/v1/cases/${caseId}/actions`, body);
      hooks.changed(after);
      await showCase(box, me, caseId, hooks);
    } catch (e) {
      message.textContent = e instanceof ApiError ? `${e.problem.code}: ${e.message}` : String(e);
    }
  };
  for (const a of actions) actionBox.append(actionControl(a, c, act, hooks));
  actionBox.append(message);
  box.append(actionBox);

  if (c.duplicate_candidates?.length && actions.includes("merge")) {
    const dups = el("section", { class: "duplicates" }, el("h3", {}, t("duplicates")));
    for (const d of c.duplicate_candidates) {
      const b = el("button", { type: "button", "data-merge-into": d.case_id }, `${t("merge")} → ${d.case_id}`);
      b.onclick = () => act({ action: "merge", into: d.case_id });
      dups.append(b);
    }
    box.append(dups);
  }
  box.append(el("h3", {}, t("timeline")), timelineList(events));
}

function targetBody(code: string): Record<string, string> {
  return /^[0-9]/.test(code) ? { unit: code } : { department: code };
}

function actionControl(
  a: string,
  c: CaseDetail,
  act: (body: Record<string, unknown>) => Promise<void>,
  hooks: PanelHooks,
): HTMLElement {
  const label = name2(ACTION_NAMES[a], a);
  const wrap = el("div", { class: "action", "data-action": a });
  if (a === "dispatch") {
    const pick = el("button", { type: "button", "data-testid": "dispatch-on-map" }, `${label} · ${t("dispatch_click")}`);
    pick.onclick = async () => {
      const code = hooks.pickUnit ? await hooks.pickUnit() : null;
      if (code) await act({ action: "dispatch", target: targetBody(code) });
    };
    wrap.append(pick);
    const candidates = [...(c.suggested_target ? [c.suggested_target] : []), ...(c.dispatch_candidates ?? [])];
    if (candidates.length) {
      const list = el("div", { class: "candidates" }, el("span", {}, t("candidates")));
      const seen = new Set<string>();
      for (const cand of candidates) {
        const code = cand.code;
        if (!code || seen.has(code)) continue;
        seen.add(code);
        const b = el("button", { type: "button", "data-target": code }, `${t("dispatch_to")} ${targetLabel(cand)}`);
        b.onclick = () => act({ action: "dispatch", target: targetBody(code) });
        list.append(b);
      }
      wrap.append(list);
    }
    return wrap;
  }
  if (a === "merge") return el("span");
  const form = el("form", { class: "action-form" });
  const fields: Array<[string, HTMLInputElement | HTMLSelectElement]> = [];
  const text = (name: string, ph: string, required = false) => {
    const i = el("input", { name, placeholder: ph, ...(required ? { required: "" } : {}) }) as HTMLInputElement;
    fields.push([name, i]);
    form.append(i);
  };
  if (NEEDS_REASON.has(a)) text("reason", t("reason"), true);
  if (a === "supervise") text("opinion", "督办意见 / opinion", true);
  if (a === "reply" || a === "answer") text("text", "回复 / reply", true);
  if (a === "progress" || a === "resolve") text("note", "说明 / note", a === "resolve");
  let file: HTMLInputElement | null = null;
  if (a === "resolve") {
    file = el("input", { type: "file", accept: "image/*", required: "" }) as HTMLInputElement;
    form.append(file);
  }
  if (a === "rate") {
    const s = el("select", { name: "score" }) as HTMLSelectElement;
    for (const n of [5, 4, 3, 2, 1]) s.append(el("option", { value: String(n) }, "★".repeat(n)));
    fields.push(["score", s]);
    form.append(s);
  }
  form.append(el("button", { type: "submit" }, label));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const body: Record<string, unknown> = { action: a };
    for (const [k, input] of fields) {
      if (!input.value) continue;
      body[k] = k === "score" ? Number(input.value) : input.value;
    }
    if (a === "resolve" && file?.files?.[0]) {
      const up = await request<{ key: string }>("/v1/media", {
        method: "POST",
        body: file.files[0],
        headers: { "content-type": file.files[0].type || "application/octet-stream" },
      });
      body.after_photos = [up.key];
    }
    await act(body);
  };
  wrap.append(form);
  return wrap;
}
