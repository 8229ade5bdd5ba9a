// Sign-in: with `serve --demo`, a list of the demo's synthetic principals by role (one click
// each, `POST /v1/demo/sign-in`); always, a field for a bearer token (`citysnap token create`).

import { ApiError, type Me, get, me, post, setToken } from "./api";
import { type Key, t } from "./i18n";
import { el } from "./dom";

interface DemoPrincipal {
  id: string;
  role: string;
  unit?: string | null;
  unit_name?: string | null;
  name?: string | null;
}

const ROLE_ORDER = ["dispatcher", "leader", "planner", "admin", "handler", "grid_worker", "resident"];
/// Long lists (hundreds of grid workers and residents) show their first few.
const SHOWN_PER_ROLE = 14;

export async function signInDialog(onDone: (m: Me | null) => void): Promise<void> {
  const dialog = el("dialog", { class: "signin", "aria-labelledby": "signin-title" });
  const close = el("button", { class: "link", type: "button" }, t("cancel"));
  close.onclick = () => dialog.close();
  dialog.append(el("h2", { id: "signin-title" }, t("sign_in_title")));

  let demo: Record<string, DemoPrincipal[]> | null = null;
  try {
    demo = (await get<{ roles: Record<string, DemoPrincipal[]> }>("/v1/demo/principals")).roles;
  } catch {
    demo = null;
  }
  if (demo) {
    const section = el("section", { class: "demo-roles" });
    section.append(el("h3", {}, t("demo_sign_in")), el("p", { class: "hint" }, t("demo_hint")));
    for (const role of ROLE_ORDER) {
      const people = demo[role];
      if (!people?.length) continue;
      const group = el("div", { class: "role-group", "data-role": role });
      group.append(el("h4", {}, t(`role_${role}` as Key)));
      // Handlers: the district, streets and departments before the many communities.
      const rank = (p: DemoPrincipal) => (p.unit && /^[0-9]/.test(p.unit) ? p.unit.length : 9);
      const shown = role === "handler" ? [...people].sort((a, b) => rank(a) - rank(b)) : people;
      for (const p of shown.slice(0, SHOWN_PER_ROLE)) {
        const label = [p.name, p.unit_name && p.unit_name !== p.name ? p.unit_name : null, p.unit]
          .filter(Boolean)
          .join(" · ");
        const b = el("button", { type: "button", class: "principal", "data-principal": p.id }, label || p.id);
        b.onclick = async () => {
          const r = await post<{ token: string }>("/v1/demo/sign-in", { principal: p.id });
          setToken(r.token);
          dialog.close();
          onDone(await me());
        };
        group.append(b);
      }
      section.append(group);
    }
    dialog.append(section);
  }
  const form = el("form", { class: "token-form" });
  const input = el("input", { type: "password", name: "token", autocomplete: "off", placeholder: "cs_…" }) as HTMLInputElement;
  const message = el("p", { class: "error", role: "alert" });
  form.append(el("label", {}, t("token_label"), input), el("button", { type: "submit" }, t("token_submit")), message);
  form.onsubmit = async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      const m = await me();
      if (!m) throw new Error("no principal");
      dialog.close();
      onDone(m);
    } catch (err) {
      message.textContent = err instanceof ApiError ? err.message : t("token_invalid");
    }
  };
  dialog.append(form, close);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
