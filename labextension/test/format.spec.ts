/**
 * The extension's figures against Python's (tools/format_fixture.py writes the fixture from
 * jupyter_carbon.units and display/text.py; tests/test_labextension.py keeps it current).
 */
import fixture from './format-fixture.json';
import {
  formatCo2e,
  formatCo2eRange,
  formatDuration,
  formatEnergy,
  formatEnergyRange,
  formatPower,
  howWord,
  plural,
  pyFixed,
  pyG,
  significant
} from '../src/format';

type Case = [number, string];
type RangeCase = [number, number, string];

function checkRange(cases: RangeCase[], format: (low: number, high: number) => string): void {
  const wrong = cases
    .map(([low, high, expected]) => [low, high, expected, format(low, high)])
    .filter(([, , expected, got]) => expected !== got);
  expect(wrong).toEqual([]);
}

function check(cases: Case[], format: (value: number) => string): void {
  const wrong = cases
    .map(([value, expected]) => [value, expected, format(value)])
    .filter(([, expected, got]) => expected !== got);
  expect(wrong).toEqual([]);
}

describe('figures as Python writes them', () => {
  it('energy', () => check(fixture.energy as Case[], formatEnergy));
  it('CO2e', () => check(fixture.co2e as Case[], formatCo2e));
  it('power', () => check(fixture.power as Case[], formatPower));
  it('durations', () => check(fixture.duration as Case[], formatDuration));
  it('significant digits', () => check(fixture.significant as Case[], v => significant(v)));
  it('energy ranges, one unit', () =>
    checkRange(fixture.energy_range as RangeCase[], formatEnergyRange));
  it('CO2e ranges, one unit', () => checkRange(fixture.co2e_range as RangeCase[], formatCo2eRange));
  it("format(x, '.3g'), ties to even", () => check(fixture.g3 as Case[], v => pyG(v, 3)));
  it("format(x, '.0f')", () => check(fixture.f0 as Case[], v => pyFixed(v, 0)));
  it("format(x, '.2f')", () => check(fixture.f2 as Case[], v => pyFixed(v, 2)));
  it('measured or estimated', () => {
    for (const [parts, expected] of fixture.how as [[string, boolean][], string][]) {
      expect(howWord(parts.map(([component, measured]) => ({ component, measured })))).toBe(
        expected
      );
    }
  });
  it('counts', () => {
    for (const [count, expected] of fixture.plural as Case[]) {
      expect(plural(count, 'cell')).toBe(expected);
    }
  });
  it('the fixture has the cases that tell the roundings apart', () => {
    // 0.125 → '0.125'; 1.125 has a tie at the third digit that Python rounds to even
    expect(pyG(1.125, 3)).toBe('1.12');
    expect((1.125).toPrecision(3)).toBe('1.13');
    expect((fixture.g3 as Case[]).some(([v]) => v === 1.125)).toBe(true);
  });
});
