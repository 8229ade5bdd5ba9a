// The console's only way to the service: the documented public API, with the bearer token
// of whoever signed in. Errors arrive as RFC 9457 problem documents.

export interface Problem {
  status: number;
  code: string;
  title?: string;
  detail?: string;
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(public problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
  }
}

export interface Me {
  id: string;
  role: string;
  unit?: string | null;
  name?: string | null;
}

const TOKEN_KEY = "citysnap.token";

export function token(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const tk = token();
  return tk ? { authorization: `Bearer ${tk}` } : {};
}

export async function problemOf(r: Response): Promise<Problem> {
  try {
    const body = await r.json();
    return { status: r.status, code: body.code ?? "error", ...body };
  } catch {
    return { status: r.status, code: "error", detail: r.statusText };
  }
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(), ...(init.headers as Record<string, string>) };
  if (init.body && typeof init.body === "string" && !headers["content-type"]) {
    headers["content-type"] = "application/json";
  }
  const r = await fetch(path, { ...init, headers });
  if (!r.ok) throw new ApiError(await problemOf(r));
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export const get = <T>(path: string) => request<T>(path);
export const post = <T>(path: string, body: unknown) =>
  request<T>(path, { method: "POST", body: JSON.stringify(body) });

export async function me(): Promise<Me | null> {
  if (!token()) return null;
  try {
    return await get<Me>("/v1/me");
  } catch (e) {
    if (e instanceof ApiError && (e.problem.status === 401 || e.problem.status === 403)) {
      setToken(null);
      return null;
    }
    throw e;
  }
}

export interface CaseItem {
  case_id: string;
  state: string;
  kind: string;
  category: string;
  warning_level: "green" | "yellow" | "red";
  deadline?: string | null;
  unit?: { unit?: string; department?: string } | null;
  assignee?: string | null;
  open_supervisions: number;
  submitted_at: string;
  updated_at: string;
  location: { lon: number; lat: number };
  grid?: string | null;
}

/// Every page of a case list (`next_after`), up to `max` cases.
export async function allCases(query: URLSearchParams, max = 5000): Promise<CaseItem[]> {
  const out: CaseItem[] = [];
  let after: string | null = null;
  query.set("limit", "500");
  for (;;) {
    if (after) query.set("after", after);
    const page = await get<{ cases: CaseItem[]; next_after?: string | null }>(`/v1/cases?${query}`);
    out.push(...page.cases);
    after = page.next_after ?? null;
    if (!after || out.length >= max) return out;
  }
}

export interface Category {
  code: string;
  name: string;
  name_en?: string | null;
  kind: string;
  parent?: string | null;
}

let categoriesCache: Promise<Category[]> | null = null;
export function categories(): Promise<Category[]> {
  categoriesCache ??= get<{ categories: Category[] } | Category[]>("/v1/categories").then((b) =>
    Array.isArray(b) ? b : b.categories,
  );
  return categoriesCache;
}

/// Server-Sent Events with the bearer token (EventSource cannot send headers): reads
/// `GET /v1/events/stream` with fetch and reconnects with a growing pause after any break,
/// calling `onOpen` at every (re)connection so the caller can re-read what it missed.
export function streamEvents(
  onEvent: (data: unknown) => void,
  onStatus: (live: boolean) => void,
): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let pause = 500;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const r = await fetch("/v1/events/stream", {
          headers: { ...authHeaders(), accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (!r.ok || !r.body) throw new Error(`stream ${r.status}`);
        onStatus(true);
        pause = 500;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const data = block
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trimStart())
              .join("\n");
            if (data) {
              try {
                onEvent(JSON.parse(data));
              } catch {
                /* a comment or keep-alive */
              }
            }
          }
        }
      } catch {
        /* network error or server restart: reconnect below */
      }
      if (stopped) return;
      onStatus(false);
      await new Promise((res) => setTimeout(res, pause));
      pause = Math.min(pause * 2, 10_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
