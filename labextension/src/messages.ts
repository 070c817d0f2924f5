/**
 * What the kernel sends on the `jupyter_carbon` comm (jupyter_carbon/display/footer.py builds
 * them; display/frontend.py says when). Energies in J, masses of CO2e in g, times in s.
 */

/** The comm's target, registered with every kernel a notebook connects to. */
export const TARGET = 'jupyter_carbon';
/** The cell metadata key of a cell's last run. */
export const METADATA_KEY = 'jupyter_carbon';

export interface IComponentFigures {
  component: string;
  energy_j: number;
  low_j?: number;
  high_j?: number;
  measured: boolean;
  methods?: string[];
}

/** The session so far: every measured cell, overlapping ones counted once. */
export interface ISessionFigures {
  cells: number;
  duration_s: number;
  energy_j: number;
  low_j: number;
  high_j: number;
  co2e_g: number;
  /** anything in the session was estimated (a model, not a meter) */
  estimated: boolean;
}

/** A measured cell that ended. */
export interface IRecordFigures {
  id: number;
  name: string;
  cell: number | null;
  kind: string;
  status: string;
  end_utc: string;
  duration_s: number;
  energy_j: number;
  low_j: number;
  high_j: number;
  co2e_g: number;
  co2e_low_g: number;
  co2e_high_g: number;
  components: IComponentFigures[];
  intensity_g_per_kwh: number;
  intensity_source: string;
  pue: number;
  scope: string;
  notes: string[];
}

export interface IRecordMessage extends IRecordFigures {
  type: 'record';
  session: ISessionFigures;
}

/** A running cell's figures so far. */
export interface IProgressMessage {
  type: 'progress';
  elapsed_s: number;
  energy_j: number;
  co2e_g: number;
  power_w: number;
  components: IComponentFigures[];
}

/** The answer to the extension's ack: the session so far and its recent records. */
export interface IHelloMessage {
  type: 'hello';
  session: ISessionFigures;
  records: IRecordFigures[];
}

export type KernelMessage = IRecordMessage | IProgressMessage | IHelloMessage;

/** What the footer and the status bar show (the settings editor's choice). */
export type Figure = 'both' | 'energy' | 'co2e';

export interface ISettings {
  footer: boolean;
  metadata: boolean;
  figure: Figure;
}
