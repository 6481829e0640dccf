// Test-only, loaded with `--require` (Bun's alias of --preload) into sidecars of the fault soak: steps this process's wall clock by an
// hour forward, then back, then back again, every SIDECAR_DESTRUCT_SKEW_PERIOD_MS, as NTP steps the clock of a
// Raspberry Pi without a clock chip. The monotonic clock (performance.now) is left alone: grace periods and
// backoff must not notice.
'use strict';
const HOUR = 3_600_000;
const period = Number(process.env.SIDECAR_DESTRUCT_SKEW_PERIOD_MS || 7_000);
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
const steps = [HOUR, 0, -HOUR, 0];
let step = -1;
let offset = 0;
setInterval(() => {
  step = (step + 1) % steps.length;
  offset = steps[step];
}, period).unref();
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + offset);
    else super(...args);
  }
  static now() {
    return realNow() + offset;
  }
}
globalThis.Date = SkewedDate;
