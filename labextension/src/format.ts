/**
 * Figures as jupyter_carbon's Python views write them (jupyter_carbon/units.py and
 * display/text.py): the same units, thresholds and digits, one unit per figure.
 *
 * Python's `format(x, '.3g')` rounds the exact binary value half to even; JavaScript's
 * `toPrecision` rounds ties up. A figure must read the same in the footer as in the report, so the
 * rounding here works on the exact decimal expansion of the double (test/format.spec.ts checks it
 * against figures written by Python: tools/format_fixture.py).
 */

/** (factor, unit) from the smallest: energies in J. */
export const ENERGY_UNITS: ReadonlyArray<readonly [number, string]> = [
  [3600 * 1e-6, 'µWh'],
  [3600 * 1e-3, 'mWh'],
  [3600, 'Wh'],
  [3_600_000, 'kWh'],
  [3_600_000 * 1e3, 'MWh']
];
/** (factor, unit) from the smallest: masses of CO2e in g. */
export const CO2E_UNITS: ReadonlyArray<readonly [number, string]> = [
  [1e-6, 'µg'],
  [1e-3, 'mg'],
  [1, 'g'],
  [1e3, 'kg'],
  [1e6, 't']
];
const POWER_UNITS: ReadonlyArray<readonly [number, string]> = [
  [1e-3, 'mW'],
  [1, 'W'],
  [1e3, 'kW']
];

/** The exact decimal digits and exponent of a finite, non-negative double: value = 0.digits × 10^exp10. */
function exactDecimal(value: number): { digits: string; exp10: number } {
  if (value === 0) {
    return { digits: '0', exp10: 1 };
  }
  // value = mantissa × 2^exp2 with an integer mantissa
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  let exp2: number;
  if (biased === 0) {
    exp2 = -1074;
  } else {
    mantissa |= 1n << 52n;
    exp2 = biased - 1075;
  }
  let text: string;
  let fraction: number; // digits after the decimal point in `text`
  if (exp2 >= 0) {
    text = (mantissa << BigInt(exp2)).toString();
    fraction = 0;
  } else {
    text = (mantissa * 5n ** BigInt(-exp2)).toString(); // × 10^exp2
    fraction = -exp2;
  }
  const stripped = text.replace(/^0+/, '');
  return { digits: stripped, exp10: stripped.length - fraction };
}

/**
 * Round the exact value to `keep` leading digits, half to even: the kept digits (a string of
 * `keep` digits, or one more when rounding carried) and the new exponent.
 */
function roundDigits(
  digits: string,
  exp10: number,
  keep: number
): { digits: string; exp10: number } {
  if (keep <= 0) {
    // nothing is kept: 0, or one unit of the next digit up for more than half of it (exactly
    // half rounds to the even 0)
    const first = Number(digits[0]);
    const up = keep === 0 && (first > 5 || (first === 5 && /[1-9]/.test(digits.slice(1))));
    return up ? { digits: '1', exp10: exp10 + 1 } : { digits: '0', exp10 };
  }
  if (digits.length <= keep) {
    return { digits: digits.padEnd(keep, '0'), exp10 };
  }
  let head = BigInt(digits.slice(0, keep));
  const next = Number(digits[keep]);
  const rest = /[1-9]/.test(digits.slice(keep + 1));
  if (next > 5 || (next === 5 && (rest || head % 2n === 1n))) {
    head += 1n;
  }
  let out = head.toString();
  let exp = exp10;
  if (out.length > keep) {
    exp += 1;
    out = out.slice(0, keep);
  }
  return { digits: out, exp10: exp };
}

/** Python's `format(value, f'.{places}f')`. */
export function pyFixed(value: number, places: number): string {
  if (Number.isNaN(value)) {
    return 'nan';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'inf' : '-inf';
  }
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  let whole = '0'; // value × 10^places, rounded: an integer's digits
  if (value !== 0) {
    const exact = exactDecimal(Math.abs(value));
    const rounded = roundDigits(exact.digits, exact.exp10, exact.exp10 + places);
    const shift = rounded.exp10 + places - rounded.digits.length;
    whole = (rounded.digits + '0'.repeat(Math.max(shift, 0))).replace(/^0+(?=\d)/, '');
  }
  if (places === 0) {
    return sign + whole;
  }
  const padded = whole.padStart(places + 1, '0');
  return `${sign}${padded.slice(0, -places)}.${padded.slice(-places)}`;
}

/** Python's `format(value, f'.{precision}g')`. */
export function pyG(value: number, precision: number): string {
  if (Number.isNaN(value)) {
    return 'nan';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'inf' : '-inf';
  }
  const p = Math.max(precision, 1);
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  if (value === 0) {
    return `${sign}0`;
  }
  const exact = exactDecimal(Math.abs(value));
  const rounded = roundDigits(exact.digits, exact.exp10, p);
  const exponent = rounded.exp10 - 1; // value = d.ddd × 10^exponent
  let body: string;
  if (exponent >= -4 && exponent < p) {
    const digits = rounded.digits;
    if (exponent >= 0) {
      const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
      const frac = digits.slice(exponent + 1);
      body = frac ? `${whole}.${frac}` : whole;
    } else {
      body = `0.${'0'.repeat(-exponent - 1)}${digits}`;
    }
    if (body.includes('.')) {
      body = body.replace(/0+$/, '').replace(/\.$/, '');
    }
  } else {
    let mantissa = rounded.digits[0];
    const frac = rounded.digits.slice(1).replace(/0+$/, '');
    if (frac) {
      mantissa += `.${frac}`;
    }
    const e = Math.abs(exponent).toString().padStart(2, '0');
    body = `${mantissa}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  return sign + body;
}

/** Python's `round(value)` for a finite value: half to even. */
export function pyRound(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) {
    return floor + 1;
  }
  if (diff < 0.5) {
    return floor;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The largest (factor, unit) whose factor is <= magnitude (else the smallest): units.unit_for. */
export function unitFor(
  magnitude: number,
  units: ReadonlyArray<readonly [number, string]>
): readonly [number, string] {
  let found = units[0];
  for (const step of units) {
    if (magnitude >= step[0]) {
      found = step;
    }
  }
  return found;
}

/** Thousands separators in the whole part of a number's text: `1234.5` → `1,234.5`. */
function separated(text: string): string {
  const [whole, frac] = text.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/**
 * units.significant: `value` with `digits` significant digits in fixed point, with thousands
 * separators and without trailing zeros (never an exponent): `0.05921` → `0.0592`, `1234.5` →
 * `1,230`. At most `maxDecimals` decimals: a smaller non-zero value is `<0.000001`.
 */
export function significant(value: number, digits = 3, maxDecimals = 6): string {
  if (Number.isNaN(value)) {
    return 'n/a';
  }
  if (!Number.isFinite(value)) {
    return 'overflow';
  }
  if (value === 0) {
    return '0';
  }
  const exact = exactDecimal(Math.abs(value));
  const decimals = Math.min(digits - 1 - (exact.exp10 - 1), maxDecimals); // exp10 - 1: log10
  let text: string;
  if (decimals < 0) {
    // Python's round(value, decimals), then no decimals: the kept digits and zeros
    const rounded = roundDigits(exact.digits, exact.exp10, exact.exp10 + decimals);
    const zeros = '0'.repeat(Math.max(rounded.exp10 - rounded.digits.length, 0));
    text = rounded.digits === '0' ? '0' : `${value < 0 ? '-' : ''}${rounded.digits}${zeros}`;
  } else {
    text = pyFixed(value, decimals);
  }
  text = separated(text);
  if (text.includes('.')) {
    text = text.replace(/0+$/, '').replace(/\.$/, '');
  }
  if (text === '0' || text === '-0') {
    return `${value > 0 ? '<' : '>-'}${pyFixed(10 ** -maxDecimals, maxDecimals)}`;
  }
  return text;
}

function scaled(value: number, units: ReadonlyArray<readonly [number, string]>): string {
  if (Number.isNaN(value)) {
    return 'n/a';
  }
  const [factor, unit] = unitFor(Math.abs(value), units);
  return `${significant(value / factor, 3, 12)} ${unit}`;
}

/** units.format_energy: `7200` → `2 Wh`. */
export function formatEnergy(energyJ: number): string {
  return scaled(energyJ, ENERGY_UNITS);
}

/** units.format_co2e: `0.0123` → `12.3 mg CO2e`. */
export function formatCo2e(co2eG: number): string {
  return `${scaled(co2eG, CO2E_UNITS)} CO2e`;
}

function range(low: number, high: number, units: ReadonlyArray<readonly [number, string]>): string {
  const [factor, unit] = unitFor(Math.max(Math.abs(low), Math.abs(high)), units);
  return `${significant(low / factor)}–${significant(high / factor)} ${unit}`;
}

/** units.format_energy_range: one unit, the larger end's: `0.603–3.25 mWh`. */
export function formatEnergyRange(lowJ: number, highJ: number): string {
  return range(lowJ, highJ, ENERGY_UNITS);
}

/** units.format_co2e_range: `0.196–3.34 mg CO2e`. */
export function formatCo2eRange(lowG: number, highG: number): string {
  return `${range(lowG, highG, CO2E_UNITS)} CO2e`;
}

/** units.format_power. */
export function formatPower(powerW: number): string {
  return scaled(powerW, POWER_UNITS);
}

/** units.format_duration: `0.0123` → `12.3 ms`, `75` → `1 min 15 s`, `3725` → `1 h 2 min`. */
export function formatDuration(durationS: number): string {
  if (durationS < 1e-3) {
    return `${pyFixed(durationS * 1e6, 0)} µs`;
  }
  if (durationS < 1) {
    return `${pyG(durationS * 1e3, 3)} ms`;
  }
  if (durationS < 60) {
    return `${pyG(durationS, 3)} s`;
  }
  const total = pyRound(durationS);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  if (minutes < 60) {
    return `${minutes} min ${seconds} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** text.plural: `1 cell`, `2 cells`, `1,234 cells`. */
export function plural(count: number, noun: string): string {
  const digits = separated(Math.trunc(count).toString());
  return `${digits} ${noun}${count === 1 ? '' : 's'}`;
}

/** One component of a record: its energy and whether every device of it measured. */
export interface IMeasuredPart {
  component: string;
  measured: boolean;
}

/**
 * text.how_word: `measured` or `estimated` when all components agree, else
 * `CPU measured, RAM estimated`.
 */
export function howWord(parts: ReadonlyArray<IMeasuredPart>): string {
  const kinds = new Set(parts.map(p => p.measured));
  if (kinds.size === 1) {
    return parts[0].measured ? 'measured' : 'estimated';
  }
  return parts
    .map(p => `${p.component.toUpperCase()} ${p.measured ? 'measured' : 'estimated'}`)
    .join(', ');
}
