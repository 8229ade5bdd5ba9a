// The citysnap console: one page, three views by hash (#/dispatch, #/planner, #/report,
// with a report's progress at #/follow/fu_…), a language switch and sign-in. Everything it shows comes from the documented public API.

import "ol/ol.css";
import "./style.css";

import { type Me, get, me, post, setToken, token } from "./api";
import { signInDialog } from "./auth";
import { dispatchPage } from "./dispatch";
import { clear, el } from "./dom";
import { type Key, currentLang, onLangChange, setLang, t } from "./i18n";
import { plannerPage } from "./planner";
import { followPage, parseSecret } from "./followup";
import { residentPage } from "./resident";

type View = "dispatch" | "planner" | "report" | "follow";

declare global {
  interface Window {
    /// What the browser tests read: the current view's map and its layers.
    citysnap?: Record<string, unknown>;
  }
}

const app = document.getElementById("app")!;
let who: Me | null = null;
let stop: (() => void) | null = null;

function view(): View {
  const h = location.hash.replace(/^#\/?/, "");
  if (h === "follow" || h.startsWith("follow/")) return "follow";
  return h === "planner" || h === "report" ? h : "dispatch";
}

function header(): HTMLElement {
  const nav = el("nav", { "aria-label": "citysnap" });
  for (const [v, key] of [["dispatch", "nav_dispatch"], ["planner", "nav_planner"], ["report", "nav_report"]] as const) {
    nav.append(el("a", { href: `#/${v}`, ...(view() === v || (v === "report" && view() === "follow") ? { "aria-current": "page" } : {}) }, t(key as Key)));
  }
  const lang = el("button", { type: "button", class: "lang", "data-testid": "lang" }, t("lang_switch"));
  lang.onclick = () => setLang(currentLang() === "zh" ? "en" : "zh");
  const account = el("div", { class: "account" });
  if (who) {
    const out = el("button", { type: "button", class: "link", "data-testid": "sign-out" }, t("sign_out"));
    // A fresh page: requests the signed-in page still has in flight must not come back
    // to a signed-out one (they would fail with 401 and nobody to show it to).
    out.onclick = () => {
      setToken(null);
      location.reload();
    };
    account.append(
      el("span", { "data-testid": "who" }, `${t(`role_${who.role}` as Key)} · ${who.name ?? who.id}`),
      out,
    );
  } else {
    const sign = el("button", { type: "button", "data-testid": "sign-in" }, t("sign_in"));
    sign.onclick = () =>
      void signInDialog((m) => {
        who = m;
        void render();
      });
    account.append(sign);
  }
  return el("header", { class: "top" }, el("h1", {}, t("brand")), nav, lang, account);
}

async function render(): Promise<void> {
  stop?.();
  stop = null;
  app.dataset.ready = "";
  clear(app);
  document.title = `citysnap · ${t(view() === "follow" ? "report_follow" : (`nav_${view()}` as Key))}`;
  const main = el("main", { id: "main" });
  app.append(header(), main);
  const v = view();
  if (v === "dispatch") {
    const h = await dispatchPage(main, who);
    stop = h?.stop ?? null;
    window.citysnap = { view: v, ...h };
  } else if (v === "planner") {
    window.citysnap = { view: v, ...(await plannerPage(main, who)) };
  } else if (v === "follow") {
    await followPage(main, parseSecret(location.hash));
    window.citysnap = { view: v };
  } else {
    window.citysnap = { view: v, ...(await residentPage(main)) };
  }
  app.dataset.ready = v;
}

window.addEventListener("hashchange", () => void render());
onLangChange(() => void render());
document.documentElement.lang = currentLang() === "zh" ? "zh-CN" : "en";
const DEMO_AUTO_KEY = "citysnap.demo-auto-sign-in";

/// A newcomer who runs `serve --demo` and opens `/` should see the dispatcher console with
/// the demo's cases, not an empty map behind a sign-in button (issue 11). So with the demo's
/// sign-in on offer (`GET /v1/demo/principals` answers only under `--demo`, and only on
/// loopback unless allowed) and no token yet, the dispatcher view signs in as the demo's
/// dispatcher once per browser; whoever signs out afterwards stays signed out.
async function demoDispatcher(): Promise<Me | null> {
  if (token() || view() !== "dispatch" || localStorage.getItem(DEMO_AUTO_KEY)) return null;
  localStorage.setItem(DEMO_AUTO_KEY, "done");
  let principals: { id: string }[] | undefined;
  try {
    principals = (await get<{ roles: Record<string, { id: string }[]> }>("/v1/demo/principals")).roles.dispatcher;
  } catch {
    return null; // not a demo deployment
  }
  const first = principals?.[0];
  if (!first) return null;
  const r = await post<{ token: string }>("/v1/demo/sign-in", { principal: first.id });
  setToken(r.token);
  return me();
}

demoDispatcher()
  .then((m) => m ?? me())
  .then((m) => (who = m))
  .catch(() => (who = null))
  .finally(() => void render());
