/**
 * jupyter_carbon in JupyterLab 4 and Notebook 7: a footer under each measured cell, the session
 * in the status bar (Notebook 7, which has none: in its top bar), the session's cells in a side
 * panel.
 *
 * The kernel opens one comm (target `jupyter_carbon`) at `%load_ext jupyter_carbon`; this
 * extension answers with an ack carrying its settings, after which the kernel sends one message
 * per measured cell (and running figures for cells longer than a second) instead of auto mode's
 * output line. Messages find their cell by the execute request they were sent under.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Cell, CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { removeFooter, showFooter } from './footer';
import { detailLines, progressLine, recordLine, statusLine, statusTitle } from './lines';
import {
  Figure,
  IProgressMessage,
  IRecordFigures,
  ISessionFigures,
  ISettings,
  KernelMessage as CarbonMessage,
  METADATA_KEY,
  TARGET
} from './messages';
import { PANEL_ID, SessionPanel } from './panel';

const PLUGIN_ID = 'jupyter-carbon:plugin';
const OPEN_COMMAND = 'jupyter-carbon:open-session';
/** The message format this extension reads (jupyter_carbon/display/frontend.py PROTOCOL). */
const PROTOCOL = 1;
/** The most records a kernel's session keeps here, for the panel. */
const KEEP_RECORDS = 200;

/** What one kernel's session has told this page. */
class KernelState {
  session: ISessionFigures | null = null;
  running: IProgressMessage | null = null;
  records: IRecordFigures[] = [];
  comms = new Set<Kernel.IComm>();
  /** the kernel answered the ack: it sends its cells here */
  connected = false;

  reset(): void {
    this.connected = false;
    this.session = null;
    this.running = null;
    this.records = [];
    this.comms.clear();
  }
}

/** A cell's footer figures, to draw it again when a setting changes. */
interface IShown {
  record: IRecordFigures | null;
  progress: IProgressMessage | null;
  lastRun: boolean;
}

function isRecordFigures(value: unknown): value is IRecordFigures {
  const v = value as Partial<IRecordFigures> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.energy_j === 'number' &&
    typeof v.co2e_g === 'number' &&
    typeof v.duration_s === 'number' &&
    Array.isArray(v.components) &&
    Array.isArray(v.notes)
  );
}

function storedFigures(message: IRecordFigures & { type?: string; session?: unknown }) {
  const figures: Record<string, unknown> = { ...message };
  delete figures.type;
  delete figures.session;
  return figures as unknown as ReadonlyPartialJSONObject;
}

class CarbonFrontend {
  settings: ISettings = { footer: true, metadata: true, figure: 'both' };
  readonly states = new WeakMap<Kernel.IKernelConnection, KernelState>();
  readonly shown = new WeakMap<Cell, IShown>();
  readonly statusItem = new Widget();
  readonly panel = new SessionPanel();

  constructor(
    readonly app: JupyterFrontEnd,
    readonly tracker: INotebookTracker
  ) {
    this.statusItem.addClass('jc-status');
    this.statusItem.id = 'jupyter-carbon-status';
    this.statusItem.node.setAttribute('role', 'button');
    this.statusItem.node.tabIndex = 0;
    this.statusItem.node.addEventListener('click', () => {
      void app.commands.execute(OPEN_COMMAND);
    });
    tracker.widgetAdded.connect((_, panel) => this.watch(panel));
    NotebookActions.executionScheduled.connect((_, { cell }) => this.runAgain(cell));
    tracker.currentChanged.connect(() => this.update());
    tracker.forEach(panel => this.watch(panel));
    this.update();
  }

  // --- kernels and their comm ---------------------------------------------------------------

  watch(panel: NotebookPanel): void {
    const context = panel.sessionContext;
    const attachCurrent = (): void => {
      const kernel = context.session?.kernel;
      if (kernel) {
        this.attach(kernel);
      }
      this.update();
    };
    context.kernelChanged.connect(attachCurrent);
    void context.ready.then(attachCurrent);
    void panel.context.ready.then(() => {
      this.drawLastRuns(panel);
      panel.content.model?.cells.changed.connect(() => this.drawLastRuns(panel));
    });
  }

  attach(kernel: Kernel.IKernelConnection): void {
    if (this.states.has(kernel)) {
      return;
    }
    const state = new KernelState();
    this.states.set(kernel, state);
    kernel.registerCommTarget(TARGET, (comm, open) => {
      const data = open.content.data as { protocol?: number };
      if (data.protocol !== PROTOCOL) {
        // another version's kernel side: no ack, so it keeps adding its outputs
        console.warn(`jupyter_carbon: kernel protocol ${data.protocol}, expected ${PROTOCOL}`);
        return;
      }
      this.connect(kernel, state, comm);
    });
    kernel.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        state.reset();
        this.markLastRun(kernel); // their figures are from the kernel that went away
        this.update();
      } else if (status === 'idle' && state.running !== null) {
        state.running = null; // the cell ended without its record (interrupted, quiet)
        this.update();
      }
    });
    // After a page reload the kernel's comm is still open: find it and answer it again.
    kernel
      .requestCommInfo({ target_name: TARGET })
      .then(reply => {
        const content = reply.content;
        if (content.status !== 'ok') {
          return;
        }
        for (const id of Object.keys(content.comms)) {
          if (!kernel.hasComm(id)) {
            this.connect(kernel, state, kernel.createComm(TARGET, id));
          }
        }
      })
      .catch(() => undefined);
  }

  connect(kernel: Kernel.IKernelConnection, state: KernelState, comm: Kernel.IComm): void {
    state.comms.add(comm);
    comm.onMsg = msg => this.receive(kernel, state, msg);
    comm.onClose = () => {
      state.comms.delete(comm);
      state.connected = state.comms.size > 0 && state.connected;
      this.update();
    };
    void this.ack(kernel, comm);
  }

  /**
   * Answer the kernel's comm. Where comms go over a kernel subshell (JupyterLab ≥ 4.6 with a
   * kernel that has subshells: ipykernel ≥ 7), once that subshell exists: the kernel then reads
   * the answer at once, not after the cells already queued on its main shell (a "Run All").
   */
  async ack(kernel: Kernel.IKernelConnection, comm: Kernel.IComm): Promise<void> {
    const started = (comm as Partial<{ subshellStarted: Promise<void> }>).subshellStarted;
    try {
      await kernel.info;
      if (kernel.supportsSubshells && started) {
        await Promise.race([started, new Promise(resolve => setTimeout(resolve, 2000))]);
      }
    } catch {
      // no subshell: the main shell carries the answer
    }
    if (!comm.isDisposed) {
      comm.send({ type: 'ack', ...this.settings });
    }
  }

  receive(
    kernel: Kernel.IKernelConnection,
    state: KernelState,
    msg: KernelMessage.ICommMsgMsg
  ): void {
    const data = msg.content.data as unknown as CarbonMessage;
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
    if (data.type === 'hello') {
      state.connected = true;
      state.session = data.session;
      state.records = data.records.slice(-KEEP_RECORDS);
    } else if (data.type === 'progress') {
      state.running = data;
      const cell = this.findCell(kernel, parent);
      if (cell) {
        this.shown.set(cell, { record: null, progress: data, lastRun: false });
        this.draw(cell);
      }
    } else if (data.type === 'record') {
      state.running = null;
      state.session = data.session;
      state.records.push(data);
      state.records.splice(0, state.records.length - KEEP_RECORDS);
      const cell = this.findCell(kernel, parent);
      if (cell) {
        this.shown.set(cell, { record: data, progress: null, lastRun: false });
        this.draw(cell);
        if (this.settings.metadata) {
          cell.model.setMetadata(METADATA_KEY, storedFigures(data));
        }
      }
    }
    this.update();
  }

  /** The code cell whose execute request `parent` is, in a notebook on `kernel`. */
  findCell(kernel: Kernel.IKernelConnection, parent: string | undefined): Cell | null {
    if (!parent) {
      return null;
    }
    let found: Cell | null = null;
    this.tracker.forEach(panel => {
      if (found || panel.sessionContext.session?.kernel !== kernel) {
        return;
      }
      for (const cell of panel.content.widgets) {
        if (
          cell.model.type === 'code' &&
          (cell as CodeCell).outputArea.future?.msg.header.msg_id === parent
        ) {
          found = cell;
          return;
        }
      }
    });
    return found;
  }

  // --- footers ------------------------------------------------------------------------------

  draw(cell: Cell): void {
    const shown = this.shown.get(cell);
    if (!this.settings.footer || !shown) {
      removeFooter(cell);
      return;
    }
    const figure: Figure = this.settings.figure;
    if (shown.progress) {
      showFooter(cell, progressLine(shown.progress, figure), [], 'live');
    } else if (shown.record) {
      showFooter(
        cell,
        recordLine(shown.record, figure, shown.lastRun),
        detailLines(shown.record),
        shown.lastRun ? 'last-run' : 'final'
      );
    }
  }

  /** The footers of cells not run since the notebook opened, from their metadata. */
  drawLastRuns(panel: NotebookPanel): void {
    for (const cell of panel.content.widgets) {
      if (cell.model.type !== 'code' || this.shown.has(cell)) {
        continue;
      }
      const figures = cell.model.getMetadata(METADATA_KEY);
      if (isRecordFigures(figures)) {
        this.shown.set(cell, { record: figures, progress: null, lastRun: true });
        this.draw(cell);
      }
    }
  }

  /**
   * A cell runs again: a footer of an earlier kernel's run goes, with its figures in the cell's
   * metadata (should this run not reach the footer, e.g. it starts before the extension's answer,
   * its output line shows it, not a stale "last run" under it); this kernel's figures stay until
   * the new ones come.
   */
  runAgain(cell: Cell): void {
    if (this.shown.get(cell)?.lastRun) {
      this.shown.set(cell, { record: null, progress: null, lastRun: false });
      removeFooter(cell);
      cell.model.deleteMetadata(METADATA_KEY); // a saved notebook keeps no figures of a run it lost
    }
  }

  /** The footers of the notebooks on `kernel` now show a last run (it restarted or died). */
  markLastRun(kernel: Kernel.IKernelConnection): void {
    this.tracker.forEach(panel => {
      if (panel.sessionContext.session?.kernel !== kernel) {
        return;
      }
      for (const cell of panel.content.widgets) {
        const shown = this.shown.get(cell);
        if (shown?.record) {
          this.shown.set(cell, { record: shown.record, progress: null, lastRun: true });
          this.draw(cell);
        } else if (shown) {
          this.shown.delete(cell); // running when the kernel went: no figures to keep
          this.draw(cell);
        }
      }
    });
  }

  redrawAll(): void {
    this.tracker.forEach(panel => {
      for (const cell of panel.content.widgets) {
        this.draw(cell);
      }
    });
  }

  // --- settings, status bar, panel ------------------------------------------------------------

  applySettings(settings: ISettingRegistry.ISettings): void {
    const figure = settings.get('figure').composite as Figure;
    this.settings = {
      footer: settings.get('footer').composite !== false,
      metadata: settings.get('metadata').composite !== false,
      figure: figure === 'energy' || figure === 'co2e' ? figure : 'both'
    };
    this.tracker.forEach(panel => {
      const kernel = panel.sessionContext.session?.kernel;
      const state = kernel ? this.states.get(kernel) : undefined;
      for (const comm of state?.comms ?? []) {
        comm.send({ type: 'settings', ...this.settings });
      }
    });
    this.redrawAll();
    this.update();
  }

  currentState(): KernelState | null {
    const kernel = this.tracker.currentWidget?.sessionContext.session?.kernel;
    return (kernel && this.states.get(kernel)) || null;
  }

  update(): void {
    const state = this.currentState();
    const session = state?.session ?? null;
    const running = state?.running ?? null;
    this.statusItem.node.textContent = statusLine(session, running, this.settings.figure);
    this.statusItem.node.title = statusTitle(session);
    this.statusItem.node.dataset.running = running ? 'true' : 'false';
    this.statusItem.node.dataset.connected = state?.connected ? 'true' : 'false';
    this.panel.render(session, state?.records ?? [], this.settings.figure);
  }

  openPanel(): void {
    if (!this.panel.isAttached) {
      this.app.shell.add(this.panel, 'right', { rank: 900 });
    }
    this.app.shell.activateById(PANEL_ID);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'jupyter_carbon: a footer under each measured cell, the session in the status bar',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, IStatusBar, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    labShell: ILabShell | null
  ) => {
    const frontend = new CarbonFrontend(app, tracker);
    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show the jupyter_carbon session',
      execute: () => frontend.openPanel()
    });
    if (statusBar) {
      statusBar.registerStatusItem('jupyter-carbon:session', {
        item: frontend.statusItem,
        align: 'left',
        rank: 100
      });
    } else {
      // Notebook 7 has no status bar: the item goes in its top bar, beside the kernel's name
      app.shell.add(frontend.statusItem, 'top', { rank: 1000 });
    }
    if (labShell) {
      labShell.currentChanged.connect(() => frontend.update());
    }
    if (registry) {
      registry
        .load(PLUGIN_ID)
        .then(settings => {
          frontend.applySettings(settings);
          settings.changed.connect(() => frontend.applySettings(settings));
        })
        .catch(reason => console.error('jupyter_carbon: settings not loaded', reason));
    }
  }
};

export default plugin;
