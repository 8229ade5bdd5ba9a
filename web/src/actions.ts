// Which actions a role may take on a case in a state: the state machine of
// `src/domain/case.rs` (`apply`) crossed with its role table (`may`), so the case panel
// offers exactly those. The service checks again and answers 403/409 if this ever drifts.

const BY_STATE: Record<string, string[]> = {
  submitted: ["verify", "invalidate", "dispatch", "merge", "cancel", "acknowledge", "answer", "supervise"],
  pending_verification: ["verify", "invalidate", "merge", "cancel", "supervise"],
  verified: ["dispatch", "merge", "park", "cancel", "supervise"],
  dispatched: ["dispatch", "accept", "return", "merge", "park", "cancel", "supervise", "reply"],
  accepted: ["dispatch", "return", "progress", "resolve", "park", "cancel", "supervise", "reply"],
  returned: ["dispatch", "merge", "park", "cancel", "supervise", "reply"],
  in_progress: ["progress", "resolve", "park", "cancel", "supervise", "reply"],
  resolved: ["reinspect", "close", "rework", "cancel", "supervise", "reply"],
  reopened: ["dispatch", "close", "rework", "park", "cancel", "supervise", "reply"],
  parked: ["dispatch", "cancel", "supervise", "reply"],
  closed: ["rate", "reopen"],
  rated: ["reopen"],
};

const BY_ROLE: Record<string, string[]> = {
  verify: ["grid_worker", "dispatcher"],
  invalidate: ["grid_worker", "dispatcher"],
  dispatch: ["dispatcher", "handler"],
  accept: ["handler", "grid_worker"],
  return: ["handler", "grid_worker"],
  progress: ["handler", "grid_worker"],
  resolve: ["handler", "grid_worker"],
  reply: ["handler", "grid_worker"],
  reinspect: ["grid_worker"],
  close: ["dispatcher"],
  park: ["dispatcher"],
  rework: ["grid_worker", "dispatcher"],
  rate: ["resident"],
  reopen: ["resident", "dispatcher", "leader"],
  merge: ["dispatcher"],
  cancel: ["resident", "dispatcher", "admin"],
  supervise: ["leader"],
  acknowledge: ["dispatcher", "handler"],
  answer: ["dispatcher", "handler"],
};

export const NEEDS_REASON = new Set(["invalidate", "return", "rework", "reopen", "park", "cancel"]);

export function allowedActions(role: string, state: string, kind: string, openSupervisions: number): string[] {
  return (BY_STATE[state] ?? []).filter((a) => {
    if (!BY_ROLE[a]?.includes(role)) return false;
    if (a === "reply" && openSupervisions === 0) return false;
    if (kind === "praise") return a === "acknowledge" || a === "cancel";
    if (kind === "consultation") return a === "answer" || a === "cancel";
    return a !== "acknowledge" && a !== "answer";
  });
}

export const ACTION_NAMES: Record<string, [string, string]> = {
  verify: ["核实", "Verify"],
  invalidate: ["核实不属实", "Invalidate"],
  dispatch: ["派遣", "Dispatch"],
  accept: ["接收", "Accept"],
  return: ["退回", "Return"],
  progress: ["处置进展", "Progress note"],
  resolve: ["处置完毕", "Resolve"],
  reinspect: ["复查通过", "Re-inspect"],
  close: ["结案", "Close"],
  rework: ["返工", "Rework"],
  rate: ["评价", "Rate"],
  reopen: ["重新打开", "Reopen"],
  merge: ["合并", "Merge"],
  park: ["挂账", "Park"],
  cancel: ["撤销", "Cancel"],
  supervise: ["督办", "Supervise"],
  reply: ["回复督办", "Reply"],
  acknowledge: ["确认", "Acknowledge"],
  answer: ["答复", "Answer"],
  submit: ["上报", "Reported"],
  escalated_yellow: ["黄灯预警", "Turned yellow"],
  escalated_red: ["红灯预警", "Turned red"],
};

export const STATE_NAMES: Record<string, [string, string]> = {
  submitted: ["待派遣", "Waiting for dispatch"],
  pending_verification: ["待核实", "Waiting for verification"],
  verified: ["已核实", "Verified"],
  invalid: ["不属实", "Invalid"],
  dispatched: ["已派遣", "Dispatched"],
  accepted: ["已接收", "Accepted"],
  returned: ["已退回", "Returned"],
  in_progress: ["处置中", "In progress"],
  resolved: ["已处置", "Resolved"],
  closed: ["已结案", "Closed"],
  rated: ["已评价", "Rated"],
  reopened: ["重新打开", "Reopened"],
  merged: ["已合并", "Merged"],
  parked: ["挂账", "Parked"],
  cancelled: ["已撤销", "Cancelled"],
};

export const OPEN_STATES = [
  "submitted", "pending_verification", "verified", "dispatched", "accepted", "returned",
  "in_progress", "resolved", "reopened", "parked",
];
