/**
 * The words of the footer, its details and the status bar, from the kernel's figures. Pure:
 * test/lines.spec.ts checks them without a browser.
 */
import {
  formatCo2e,
  formatCo2eRange,
  formatDuration,
  formatEnergy,
  formatEnergyRange,
  formatPower,
  howWord,
  plural,
  pyG
} from './format';
import {
  Figure,
  IComponentFigures,
  IProgressMessage,
  IRecordFigures,
  ISessionFigures
} from './messages';

/** `0.31 Wh · 0.15 g CO2e`, or one of the two. */
export function figures(energyJ: number, co2eG: number, figure: Figure): string {
  const parts = [];
  if (figure !== 'co2e') {
    parts.push(formatEnergy(energyJ));
  }
  if (figure !== 'energy') {
    parts.push(formatCo2e(co2eG));
  }
  return parts.join(' · ');
}

/**
 * An ended cell's footer: `carbon: 1.2 s · 0.31 Wh · 0.15 g CO2e (estimated)`, as auto mode's
 * line says it; `carbon [ERROR]: …` for a failed cell; `carbon, last run: …` from the metadata
 * of a cell not run since the notebook was opened.
 */
export function recordLine(record: IRecordFigures, figure: Figure, lastRun = false): string {
  const status = record.status === 'ok' ? '' : ` [${record.status.toUpperCase()}]`;
  const head = lastRun ? `carbon${status}, last run` : `carbon${status}`;
  return (
    `${head}: ${formatDuration(record.duration_s)} · ` +
    `${figures(record.energy_j, record.co2e_g, figure)} (${howWord(record.components)})`
  );
}

/** A running cell's footer: `carbon: running 3.2 s · 12 W · 1.2 mWh · 0.6 mg CO2e so far (…)`. */
export function progressLine(progress: IProgressMessage, figure: Figure): string {
  const how = progress.components.length ? ` (${howWord(progress.components)})` : '';
  return (
    `carbon: running ${formatDuration(progress.elapsed_s)} · ${formatPower(progress.power_w)} · ` +
    `${figures(progress.energy_j, progress.co2e_g, figure)} so far${how}`
  );
}

/** text.component_badge: `rapl` measured, `estimated (cpu-model, 1 µWh–2 µWh)`. */
function badge(part: IComponentFigures): string {
  const methods = (part.methods ?? []).join('/');
  if (part.measured) {
    return `measured (${methods})`;
  }
  const low = part.low_j ?? part.energy_j;
  const high = part.high_j ?? part.energy_j;
  const band = high > low ? `, ${formatEnergyRange(low, high)}` : '';
  return `estimated (${methods}${band})`;
}

/** The footer's details (on hover and click): components, band, intensity, notes. */
export function detailLines(record: IRecordFigures): string[] {
  const lines = record.components.map(
    part => `${part.component.toUpperCase()} ${formatEnergy(part.energy_j)} · ${badge(part)}`
  );
  if (record.co2e_high_g > record.co2e_low_g) {
    lines.push(`range ${formatCo2eRange(record.co2e_low_g, record.co2e_high_g)}`);
  }
  lines.push(
    `intensity ${pyG(record.intensity_g_per_kwh, 6)} gCO2e/kWh (${record.intensity_source}) · ` +
      `PUE ${pyG(record.pue, 6)} · scope ${record.scope}`
  );
  lines.push(`${record.name} · ended ${record.end_utc.replace('T', ' ').slice(0, 19)} UTC`);
  return lines.concat(record.notes.map(note => `note: ${note}`));
}

/**
 * The status bar: `carbon: 1.13 mg CO2e · 2.4 mWh`, with ` · est.` when anything was estimated
 * and ` · 12.3 W` while a cell runs (its energy so far included).
 */
export function statusLine(
  session: ISessionFigures | null,
  running: IProgressMessage | null,
  figure: Figure
): string {
  if (session === null && running === null) {
    return 'carbon: no cell measured yet';
  }
  const energyJ = (session?.energy_j ?? 0) + (running?.energy_j ?? 0);
  const co2eG = (session?.co2e_g ?? 0) + (running?.co2e_g ?? 0);
  // the session's CO2e first: what the status bar is for
  const text =
    figure === 'both'
      ? `${formatCo2e(co2eG)} · ${formatEnergy(energyJ)}`
      : figures(energyJ, co2eG, figure);
  const estimated =
    (session?.estimated ?? false) || (running?.components.some(c => !c.measured) ?? false);
  return (
    `carbon: ${text}` +
    (estimated ? ' · est.' : '') +
    (running ? ` · ${formatPower(running.power_w)}` : '')
  );
}

/** The status bar's tooltip: the session in words. */
export function statusTitle(session: ISessionFigures | null): string {
  if (session === null) {
    return 'jupyter_carbon: no measured cell in this kernel yet. Click for the session.';
  }
  const est = session.estimated
    ? '\nest.: part of the figures are estimated by a model, not measured by a meter.'
    : '\nall figures measured.';
  return (
    `jupyter_carbon session: ${plural(session.cells, 'cell')} · ` +
    `${formatDuration(session.duration_s)} measured · ${formatEnergy(session.energy_j)} · ` +
    `${formatCo2e(session.co2e_g)}${est}\nClick for the session's cells.`
  );
}
