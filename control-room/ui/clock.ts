// Server-relative time for countdowns: each control state carries the server's clock, so arm windows, undo
// windows and waits count down right even when the operator's laptop clock is off.
let offsetMs = 0;

export function syncClock(serverTimeIso: string): void {
  const t = Date.parse(serverTimeIso);
  if (Number.isFinite(t)) offsetMs = t - Date.now();
}

export function serverNow(): number {
  return Date.now() + offsetMs;
}

/** Milliseconds left until a server instant (ISO), never negative. */
export function leftMs(untilIso: string): number {
  return Math.max(0, Date.parse(untilIso) - serverNow());
}

/**
 * Live countdowns and progress bars: elements carrying `data-until` (ISO) show the seconds left; elements carrying
 * `data-from` and `data-to` (ISO) are progress bars whose width follows the time between the two.
 */
export function tickCountdowns(root: ParentNode = document): void {
  const now = serverNow();
  for (const e of root.querySelectorAll<HTMLElement>('[data-until]')) {
    const left = Math.max(0, Date.parse(e.dataset.until!) - now);
    const text = `${(left / 1000).toFixed(1)} s`;
    if (e.textContent !== text) e.textContent = text;
  }
  for (const e of root.querySelectorAll<HTMLElement>('[data-from][data-to]')) {
    const from = Date.parse(e.dataset.from!);
    const to = Date.parse(e.dataset.to!);
    const p = to > from ? Math.min(1, Math.max(0, (now - from) / (to - from))) : 1;
    e.style.width = `${(p * 100).toFixed(1)}%`;
  }
}
