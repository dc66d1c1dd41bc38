// `npm run bench:overlay-soak`: memory of an overlay over a long show, at a speed-up. The counter runs against the
// whole system fed by the simulator (by default 60 s at 30x: half an hour of the show, its connection cut and its
// graphic cued off and on every 20 s), sampling the heap after a forced GC, DOM counters and Pixi objects.
// Exits 1 if the heap of the last third is not flat against the first third.
import { parseArgs } from 'node:util';
import { runOverlaySoak } from '../test-support/overlay-soak.ts';

const { values } = parseArgs({
  options: {
    overlay: { type: 'string', default: 'counter' },
    duration: { type: 'string', default: '60' },
    speed: { type: 'string', default: '30' },
    rate: { type: 'string', default: '2000' },
    sample: { type: 'string', default: '5' },
    disturb: { type: 'string', default: '20' },
  },
});
/** The last third's median heap may exceed the first third's by this share, or by FLAT_BYTES, whichever is more. */
const FLAT_SHARE = 0.1;
const FLAT_BYTES = 1_000_000;

const r = await runOverlaySoak({
  overlay: values.overlay,
  durationS: Number(values.duration),
  speed: Number(values.speed),
  peakPerSecond: Number(values.rate),
  sampleEveryS: Number(values.sample),
  disturbEveryS: Number(values.disturb),
  log: (line) => console.log(line),
});
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const growth = r.lastThirdHeap - r.firstThirdHeap;
const flat = growth <= Math.max(FLAT_BYTES, r.firstThirdHeap * FLAT_SHARE);
const objects = r.samples.map((s) => s.objects);
const nodes = r.samples.map((s) => s.nodes);
console.log(
  `\n${values.overlay}: ${values.duration} s at ${values.speed}x = ${r.showMinutes.toFixed(0)} min of the show, ${r.cuts} connection cuts, ${r.cues} cues\n` +
    `heap after GC, median of the first third ${mb(r.firstThirdHeap)}, of the last third ${mb(r.lastThirdHeap)} (${growth >= 0 ? '+' : ''}${mb(growth)}): ${flat ? 'flat' : 'GROWING'}\n` +
    `DOM nodes ${Math.min(...nodes)}..${Math.max(...nodes)}, Pixi objects ${Math.min(...objects)}..${Math.max(...objects)}\n` +
    `final figure ${r.finalDisplayed === r.finalStats ? 'equals' : 'DIFFERS FROM'} /v1/stats`,
);
process.exit(flat && r.finalDisplayed === r.finalStats ? 0 : 1);
