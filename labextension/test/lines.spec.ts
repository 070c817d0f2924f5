/**
 * The footer's and the status bar's words: every figure says measured or estimated, in the
 * units of the Python views.
 */
import { detailLines, progressLine, recordLine, statusLine } from '../src/lines';
import { IRecordFigures, ISessionFigures } from '../src/messages';

const record: IRecordFigures = {
  id: 3,
  name: 'cell [3]',
  cell: 3,
  kind: 'auto',
  status: 'ok',
  end_utc: '2026-12-07T06:53:09.123456+00:00',
  duration_s: 0.0319,
  energy_j: 0.183,
  low_j: 0.0921,
  high_j: 0.36,
  co2e_g: 2.41e-5,
  co2e_low_g: 1.2e-5,
  co2e_high_g: 4.7e-5,
  components: [
    {
      component: 'cpu',
      energy_j: 0.18,
      low_j: 0.09,
      high_j: 0.35,
      measured: false,
      methods: ['cpu-model']
    },
    { component: 'ram', energy_j: 0.003, measured: true, methods: ['rapl'] }
  ],
  intensity_g_per_kwh: 475,
  intensity_source: 'world average',
  pue: 1,
  scope: 'machine',
  notes: ['no region set']
};

const session: ISessionFigures = {
  cells: 7,
  duration_s: 3.3,
  energy_j: 18.6,
  low_j: 2,
  high_j: 38,
  co2e_g: 0.00245,
  estimated: true
};

describe('footer and status bar', () => {
  it('a cell that ended', () => {
    expect(recordLine(record, 'both')).toBe(
      'carbon: 31.9 ms · 50.8 µWh · 24.1 µg CO2e (CPU estimated, RAM measured)'
    );
    expect(recordLine({ ...record, status: 'error' }, 'co2e', true)).toBe(
      'carbon [ERROR], last run: 31.9 ms · 24.1 µg CO2e (CPU estimated, RAM measured)'
    );
    expect(recordLine(record, 'energy')).not.toContain('CO2e');
  });

  it('its details', () => {
    const lines = detailLines(record);
    expect(lines[0]).toBe('CPU 50 µWh · estimated (cpu-model, 25–97.2 µWh)'); // one unit a range
    expect(lines[1]).toBe('RAM 0.833 µWh · measured (rapl)');
    expect(lines).toContain('range 12–47 µg CO2e');
    expect(lines).toContain('intensity 475 gCO2e/kWh (world average) · PUE 1 · scope machine');
    expect(lines).toContain('cell [3] · ended 2026-12-07 06:53:09 UTC');
    expect(lines[lines.length - 1]).toBe('note: no region set');
  });

  it('a running cell, and the status bar while it runs', () => {
    const progress = {
      type: 'progress' as const,
      elapsed_s: 2.28,
      energy_j: 13.1,
      co2e_g: 0.00173,
      power_w: 5.74,
      components: [{ component: 'cpu', energy_j: 13.1, measured: false }]
    };
    expect(progressLine(progress, 'both')).toBe(
      'carbon: running 2.28 s · 5.74 W · 3.64 mWh · 1.73 mg CO2e so far (estimated)'
    );
    expect(statusLine(session, null, 'both')).toBe('carbon: 2.45 mg CO2e · 5.17 mWh · est.');
    expect(statusLine(session, progress, 'both')).toBe(
      'carbon: 4.18 mg CO2e · 8.81 mWh · est. · 5.74 W'
    );
    expect(statusLine({ ...session, estimated: false }, null, 'energy')).toBe('carbon: 5.17 mWh');
    expect(statusLine(null, null, 'both')).toBe('carbon: no cell measured yet');
  });
});
