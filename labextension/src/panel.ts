/**
 * The session's side panel (the status bar item opens it): the kernel's session so far and its
 * recent measured cells, each figure with measured or estimated.
 */
import { Widget } from '@lumino/widgets';
import {
  formatCo2e,
  formatDuration,
  formatEnergy,
  formatEnergyRange,
  howWord,
  plural
} from './format';
import { Figure, IRecordFigures, ISessionFigures } from './messages';

export const PANEL_ID = 'jupyter-carbon-session';

function element(tag: string, text: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) {
    node.className = className;
  }
  return node;
}

export class SessionPanel extends Widget {
  constructor() {
    super();
    this.id = PANEL_ID;
    this.addClass('jc-panel');
    this.title.label = 'carbon';
    this.title.caption = 'jupyter_carbon: this notebook kernel’s session';
    this.render(null, [], 'both');
  }

  render(session: ISessionFigures | null, records: IRecordFigures[], figure: Figure): void {
    const nodes: HTMLElement[] = [element('h3', 'jupyter_carbon session')];
    if (session === null) {
      nodes.push(
        element(
          'p',
          'No measured cell in this notebook’s kernel yet: %load_ext jupyter_carbon, then ' +
            '%carbon on or %%carbon.',
          'jc-panel-note'
        )
      );
    } else {
      nodes.push(
        element(
          'p',
          `${plural(session.cells, 'cell')} · ${formatDuration(session.duration_s)} measured · ` +
            `${formatEnergy(session.energy_j)} · ${formatCo2e(session.co2e_g)}` +
            (session.estimated ? ' (estimated in part)' : ' (measured)'),
          'jc-panel-total'
        )
      );
      if (session.high_j > session.low_j) {
        nodes.push(
          element(
            'p',
            `energy range of the estimates: ${formatEnergyRange(session.low_j, session.high_j)}`,
            'jc-panel-note'
          )
        );
      }
    }
    if (records.length) {
      const table = document.createElement('table');
      table.className = 'jc-panel-table';
      const head = document.createElement('tr');
      const columns = ['cell', 'time'];
      if (figure !== 'co2e') {
        columns.push('energy');
      }
      if (figure !== 'energy') {
        columns.push('CO2e');
      }
      columns.push('how');
      head.append(...columns.map(name => element('th', name)));
      table.append(head);
      for (const record of records.slice(-30).reverse()) {
        const row = document.createElement('tr');
        const cells = [record.name + (record.status === 'ok' ? '' : ` [${record.status}]`)];
        cells.push(formatDuration(record.duration_s));
        if (figure !== 'co2e') {
          cells.push(formatEnergy(record.energy_j));
        }
        if (figure !== 'energy') {
          cells.push(formatCo2e(record.co2e_g).replace(/ CO2e$/, '')); // the column says CO2e
        }
        cells.push(howWord(record.components).replace(/estimated/g, 'est.'));
        row.append(...cells.map(text => element('td', text)));
        table.append(row);
      }
      nodes.push(element('p', 'recent cells, newest first', 'jc-panel-note'), table);
    }
    nodes.push(
      element(
        'p',
        '%carbon summary in the notebook shows the full summary with plots; %carbon export ' +
          'writes every record.',
        'jc-panel-note'
      )
    );
    this.node.replaceChildren(...nodes);
  }
}
