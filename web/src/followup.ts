// Following a report without an account: intake answers each report with a follow-up secret
// (`fu_` and 64 hex digits), shown once. This browser keeps it in localStorage, one entry per
// case, lists them as "my reports", and opens a report's progress from a stored secret, a
// pasted one or a link `#/follow/fu_…`. The secret travels only in the `Follow-Up-Secret`
// header of `GET /v1/follow-up` and `POST /v1/follow-up/rating`, never in a query string
// (the fragment of a link stays in the browser).

import { ApiError, problemOf } from "./api";
import { STATE_NAMES } from "./actions";
import { type TimelineEvent, name2, timelineList } from "./casepanel";
import { clear, el, fmtTime } from "./dom";
import { t } from "./i18n";

const STORE_KEY = "citysnap.follow-ups";
const SHAPE = /^fu_[0-9a-fA-F]{64}$/;

export interface StoredFollowUp {
  secret: string;
  case_id: string;
  /// When this browser learnt the secret (ISO 8601).
  at: string;
}

export interface FollowUpView {
  case_id: string;
  state: string;
  deadline?: string | null;
  submitted_at?: string;
  events: TimelineEvent[];
  can_rate: boolean;
  master?: Omit<FollowUpView, "can_rate" | "master"> | null;
}

/// The secret in a pasted text or link: the whole text, or what follows `#/follow/`.
export function parseSecret(text: string): string | null {
  const s = text.trim();
  const m = /#\/follow\/([^/?#\s]+)/.exec(s);
  const candidate = m ? decodeURIComponent(m[1]) : s;
  return SHAPE.test(candidate) ? candidate : null;
}

export function followLink(secret: string): string {
  return `${location.origin}${location.pathname}#/follow/${secret}`;
}

export function storedFollowUps(): StoredFollowUp[] {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) ?? "[]");
    if (!Array.isArray(v)) return [];
    return v.filter(
      (x): x is StoredFollowUp =>
        x && typeof x.secret === "string" && SHAPE.test(x.secret) && typeof x.case_id === "string" && typeof x.at === "string",
    );
  } catch {
    return [];
  }
}

function save(list: StoredFollowUp[]): void {
  localStorage.setItem(STORE_KEY, JSON.stringify(list));
}

/// Remembers a case's secret; a new one comes first, and a newer secret of the same case
/// (a replayed intake answers one) replaces the old. A known secret keeps its place.
export function rememberFollowUp(secret: string, caseId: string): void {
  const list = storedFollowUps();
  const known = list.find((x) => x.secret === secret);
  if (known && known.case_id === caseId) return;
  const rest = list.filter((x) => x.case_id !== caseId && x.secret !== secret);
  save([{ secret, case_id: caseId, at: known?.at ?? new Date().toISOString() }, ...rest]);
}

export function forgetFollowUp(secret: string): void {
  save(storedFollowUps().filter((x) => x.secret !== secret));
}

async function followUp<T>(path: string, secret: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { "follow-up-secret": secret, ...(init.headers as Record<string, string>) };
  const r = await fetch(path, { ...init, headers });
  if (!r.ok) throw new ApiError(await problemOf(r));
  return (await r.json()) as T;
}

export const fetchFollowUp = (secret: string) => followUp<FollowUpView>("/v1/follow-up", secret);

export const rateFollowUp = (secret: string, rating: { score: number; comment?: string; fixed: boolean }) =>
  followUp<FollowUpView>("/v1/follow-up/rating", secret, {
    method: "POST",
    body: JSON.stringify(rating),
    headers: { "content-type": "application/json" },
  });

/// "My reports": the secrets this browser keeps, each a link to its progress.
export function myReports(): HTMLElement {
  const box = el("section", { class: "my-reports", "data-testid": "my-reports" }, el("h3", {}, t("my_reports")));
  const list = storedFollowUps();
  if (!list.length) box.append(el("p", { class: "hint" }, t("follow_none")));
  const ul = el("ul", {});
  for (const f of list) {
    const forget = el("button", { type: "button", class: "link" }, t("follow_forget"));
    forget.onclick = () => {
      forgetFollowUp(f.secret);
      box.replaceWith(myReports());
    };
    ul.append(
      el(
        "li",
        { "data-case": f.case_id },
        el("a", { href: `#/follow/${f.secret}` }, f.case_id),
        el("time", { datetime: f.at }, fmtTime(f.at)),
        forget,
      ),
    );
  }
  if (list.length) box.append(ul);

  // Reopening on another device: paste the code or the link.
  const paste = el("form", { class: "follow-paste" });
  const input = el("input", { name: "secret", placeholder: "fu_…", autocomplete: "off", "data-testid": "follow-secret", "aria-label": t("follow_paste") }) as HTMLInputElement;
  const message = el("p", { class: "error", role: "alert" });
  paste.append(el("label", {}, t("follow_paste")), input, el("button", { type: "submit" }, t("follow_open")), message);
  paste.onsubmit = (e) => {
    e.preventDefault();
    const secret = parseSecret(input.value);
    if (!secret) return void (message.textContent = t("follow_invalid"));
    location.hash = `#/follow/${secret}`;
  };
  box.append(paste);
  return box;
}

function stateBadge(state: string, testid: string): HTMLElement {
  return el("span", { class: "badge state", "data-testid": testid, "data-state": state }, name2(STATE_NAMES[state], state));
}

/// The reporter's view of the case a secret follows: state, deadline, the public timeline, the
/// master case of a merged duplicate and, once the case is closed, the rating form. A secret
/// that opens a case is remembered.
export async function showFollowUp(box: HTMLElement, secret: string): Promise<void> {
  clear(box);
  box.append(el("p", {}, t("loading")));
  let v: FollowUpView;
  try {
    v = await fetchFollowUp(secret);
  } catch (e) {
    clear(box);
    const notFound = e instanceof ApiError && e.problem.status === 404;
    box.append(el("p", { class: "error", role: "alert", "data-testid": "follow-error" }, notFound ? t("follow_not_found") : String(e)));
    return;
  }
  rememberFollowUp(secret, v.case_id);
  render(box, secret, v);
}

function render(box: HTMLElement, secret: string, v: FollowUpView): void {
  clear(box);
  box.dataset.caseId = v.case_id;
  box.dataset.state = v.state;
  const refresh = el("button", { type: "button", class: "secondary" }, t("refresh"));
  refresh.onclick = () => void showFollowUp(box, secret);
  box.append(
    el("header", { class: "case-head" }, el("h3", {}, `${t("case")} `, el("strong", { "data-testid": "follow-case" }, v.case_id)), stateBadge(v.state, "follow-state"), refresh),
    el("dl", { class: "facts" }, el("dt", {}, t("deadline")), el("dd", {}, fmtTime(v.deadline))),
  );
  if (v.master) {
    box.append(
      el("p", { class: "hint", "data-testid": "follow-master" }, `${t("follow_merged")} `, el("strong", {}, v.master.case_id), " ", stateBadge(v.master.state, "master-state")),
      el("h3", {}, t("report_follow")),
      timelineList(v.master.events),
      el("h4", {}, `${t("timeline")} · ${v.case_id}`),
      timelineList(v.events),
    );
  } else {
    box.append(el("h3", {}, t("timeline")), timelineList(v.events));
  }
  if (v.can_rate) box.append(ratingForm(box, secret));
}

function ratingForm(box: HTMLElement, secret: string): HTMLElement {
  const form = el("form", { class: "rate", "data-testid": "rate" }, el("h3", {}, t("rate_title")));
  const score = el("select", { name: "score", "aria-label": t("rate_title") }) as HTMLSelectElement;
  for (const n of [5, 4, 3, 2, 1]) score.append(el("option", { value: String(n) }, "★".repeat(n)));
  const fixed = el("input", { type: "checkbox", name: "fixed", checked: "" }) as HTMLInputElement;
  const comment = el("input", { name: "comment", maxlength: "2000", placeholder: t("rate_comment") }) as HTMLInputElement;
  const message = el("p", { class: "error", role: "alert" });
  form.append(score, el("label", {}, fixed, t("rate_fixed")), comment, el("button", { type: "submit" }, t("rate_submit")), message);
  form.onsubmit = async (e) => {
    e.preventDefault();
    message.textContent = "";
    try {
      const rating = { score: Number(score.value), fixed: fixed.checked, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) };
      const after = await rateFollowUp(secret, rating);
      render(box, secret, after);
      box.append(el("p", { class: "ok", "data-testid": "rate-thanks" }, t("rate_thanks")));
    } catch (err) {
      message.textContent = err instanceof ApiError ? `${err.problem.code}: ${err.message}` : String(err);
    }
  };
  return form;
}

/// The page `#/follow/fu_…` opens: the progress of that report, then this browser's others.
export async function followPage(root: HTMLElement, secret: string | null): Promise<void> {
  clear(root);
  const result = el("section", { class: "report-result", "aria-live": "polite" });
  root.append(el("div", { class: "resident" }, el("h2", {}, t("report_follow")), result, myReports()));
  if (!secret) {
    result.append(el("p", { class: "error", role: "alert", "data-testid": "follow-error" }, t("follow_invalid")));
    return;
  }
  await showFollowUp(result, secret);
  // The list after the secret is remembered, so that it includes this report.
  root.querySelector(".my-reports")?.replaceWith(myReports());
}
