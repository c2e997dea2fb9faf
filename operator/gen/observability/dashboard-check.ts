// Reads a Grafana dashboard JSON as shipped (deploy/observability/dashboard.json): its structural
// problems (ids, grid positions, data sources, targets, variables), and every panel query with the
// dashboard's variables replaced the way Grafana would for "All", so that Prometheus or promtool can
// run it. Used by dashboard.test.ts, alerts.promtool.test.ts and test/e2e/observability.test.ts.

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

interface JsonTarget {
  refId?: unknown;
  expr?: unknown;
  datasource?: unknown;
}

interface JsonPanel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  datasource?: unknown;
  gridPos?: Partial<GridPos>;
  targets?: JsonTarget[];
  panels?: unknown[];
}

interface JsonVariable {
  name?: unknown;
  type?: unknown;
  allValue?: unknown;
  query?: unknown;
}

export interface JsonDashboard {
  title?: unknown;
  uid?: unknown;
  panels?: JsonPanel[];
  templating?: { list?: JsonVariable[] };
}

export interface PanelQuery {
  panelId: number;
  panel: string;
  refId: string;
  /** The expression as written in the dashboard (with variables). */
  raw: string;
  /** The expression runnable by Prometheus (variables replaced). */
  expr: string;
}

/** The data source every panel and target must use: the dashboard variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's interval variables, replaced by `rateInterval`. */
const INTERVAL_VARIABLES = ['__rate_interval', '__interval', '__range'];

function isGridPos(g: Partial<GridPos> | undefined): g is GridPos {
  return g !== undefined && ['h', 'w', 'x', 'y'].every((k) => Number.isInteger(g[k as keyof GridPos]));
}

/** Why the dashboard would not load or show right in Grafana (empty: none found). */
export function dashboardProblems(d: JsonDashboard): string[] {
  const out: string[] = [];
  if (typeof d.title !== 'string' || d.title === '') out.push('no title');
  if (typeof d.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(d.uid)) out.push(`bad uid ${String(d.uid)}`);
  const vars = d.templating?.list ?? [];
  if (!vars.some((v) => v.name === 'datasource' && v.type === 'datasource'))
    out.push('no datasource variable');
  const ids = new Set<unknown>();
  const cells = new Map<string, string>();
  const panels = d.panels ?? [];
  if (panels.length === 0) out.push('no panels');
  for (const p of panels) {
    const name = `panel ${String(p.id)} (${String(p.title)})`;
    if (!Number.isInteger(p.id)) out.push(`${name}: id is not an integer`);
    if (ids.has(p.id)) out.push(`${name}: duplicate id`);
    ids.add(p.id);
    if (typeof p.title !== 'string' || p.title === '') out.push(`${name}: no title`);
    if (!isGridPos(p.gridPos)) {
      out.push(`${name}: no gridPos`);
      continue;
    }
    const g = p.gridPos;
    if (g.w < 1 || g.h < 1 || g.x < 0 || g.y < 0 || g.x + g.w > 24)
      out.push(`${name}: gridPos out of the grid`);
    let overlap: string | undefined;
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        overlap ??= cells.get(`${x},${y}`);
        cells.set(`${x},${y}`, name);
      }
    }
    if (overlap !== undefined) out.push(`${name}: overlaps ${overlap}`);
    if (p.type === 'row') {
      if ((p.panels ?? []).length > 0) out.push(`${name}: a collapsed row (its panels would not be checked)`);
      continue;
    }
    if (JSON.stringify(p.datasource) !== JSON.stringify(DATASOURCE))
      out.push(`${name}: datasource is not $datasource`);
    const targets = p.targets ?? [];
    if (targets.length === 0) out.push(`${name}: no targets`);
    const refs = new Set<unknown>();
    for (const t of targets) {
      if (typeof t.refId !== 'string' || refs.has(t.refId)) out.push(`${name}: missing or duplicate refId`);
      refs.add(t.refId);
      if (typeof t.expr !== 'string' || t.expr.trim() === '') out.push(`${name}: target without expr`);
      if (JSON.stringify(t.datasource) !== JSON.stringify(DATASOURCE))
        out.push(`${name} ${String(t.refId)}: datasource is not $datasource`);
      if (typeof t.expr === 'string') {
        try {
          substitute(t.expr, d, '1m');
        } catch (e) {
          out.push(`${name} ${String(t.refId)}: ${(e as Error).message}`);
        }
      }
    }
  }
  return out;
}

/**
 * `expr` with Grafana's variables replaced: the interval ones by `rateInterval`, the dashboard's
 * own by their "All" value (allValue). Throws on a variable the dashboard does not define.
 */
export function substitute(expr: string, d: JsonDashboard, rateInterval: string): string {
  const all = new Map<string, string>();
  for (const v of d.templating?.list ?? []) {
    if (typeof v.name === 'string' && typeof v.allValue === 'string') all.set(v.name, v.allValue);
  }
  return expr.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (_m, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      if (INTERVAL_VARIABLES.includes(name)) return rateInterval;
      const value = all.get(name);
      if (value === undefined) throw new Error(`unknown variable $${name} in ${expr}`);
      return value;
    },
  );
}

/** Every query of every panel, in order, runnable (variables replaced). */
export function dashboardQueries(d: JsonDashboard, rateInterval: string): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const p of d.panels ?? []) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== 'string') continue;
      out.push({
        panelId: Number(p.id),
        panel: String(p.title),
        refId: String(t.refId),
        raw: t.expr,
        expr: substitute(t.expr, d, rateInterval),
      });
    }
  }
  return out;
}

export interface LabelVariable {
  name: string;
  label: string;
  /** The series selector whose label values the variable lists (variables replaced). */
  match: string;
}

/** The dashboard's `label_values(<selector>, <label>)` query variables, runnable. */
export function labelVariables(d: JsonDashboard): LabelVariable[] {
  const out: LabelVariable[] = [];
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query' || typeof v.name !== 'string') continue;
    const q = (v.query as { query?: unknown } | undefined)?.query;
    const m = typeof q === 'string' ? /^label_values\((.+),\s*(\w+)\)$/.exec(q) : null;
    if (!m?.[1] || !m[2]) throw new Error(`variable ${v.name}: not a label_values() query: ${String(q)}`);
    out.push({ name: v.name, label: m[2], match: substitute(m[1], d, '1m') });
  }
  return out;
}
