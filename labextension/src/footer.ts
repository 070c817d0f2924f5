/**
 * The footer under a measured cell: one quiet line, its details on hover (the tooltip) and on
 * click (expanded under it). A plain DOM node appended to the cell's node, like
 * jupyterlab-execute-time's: not an output, so "Clear All Outputs" leaves it and it is never
 * saved as one (the figures are saved in the cell's metadata instead).
 */
import { Cell } from '@jupyterlab/cells';

/** live: the cell is running; final: it ended in this kernel; last-run: read from metadata. */
export type FooterState = 'live' | 'final' | 'last-run';

const CLASS = 'jc-footer';

function footerNode(cell: Cell): HTMLElement {
  const found = cell.node.querySelector(`:scope > .${CLASS}`);
  if (found instanceof HTMLElement) {
    return found;
  }
  const node = document.createElement('div');
  node.className = CLASS;
  const line = document.createElement('div');
  line.className = 'jc-footer-line';
  line.setAttribute('role', 'button');
  line.tabIndex = 0;
  const details = document.createElement('div');
  details.className = 'jc-footer-details';
  node.append(line, details);
  const toggle = (): void => {
    node.classList.toggle('jc-open');
    line.setAttribute('aria-expanded', String(node.classList.contains('jc-open')));
  };
  line.addEventListener('click', toggle);
  line.addEventListener('keydown', event => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      toggle();
    }
  });
  cell.node.appendChild(node);
  return node;
}

/** Show `text` (and `details`, one line each) in the cell's footer, made when missing. */
export function showFooter(cell: Cell, text: string, details: string[], state: FooterState): void {
  const node = footerNode(cell);
  node.dataset.state = state;
  const line = node.querySelector('.jc-footer-line') as HTMLElement;
  line.textContent = text;
  node.title = details.length ? details.join('\n') : text;
  const box = node.querySelector('.jc-footer-details') as HTMLElement;
  box.replaceChildren(
    ...details.map(detail => {
      const div = document.createElement('div');
      div.textContent = detail;
      return div;
    })
  );
  node.classList.toggle('jc-has-details', details.length > 0);
}

export function removeFooter(cell: Cell): void {
  cell.node.querySelector(`:scope > .${CLASS}`)?.remove();
}
