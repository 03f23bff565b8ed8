/**
 * Charts as SVG, made with vega-lite (compiled to a vega spec, rendered headless by
 * vega's View.toSVG()): latency over time with the fault shaded, availability per phase and side.
 */
import type { Op } from '@playground/checkers';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RunSummary } from './summary.js';

/** Points kept per chart: beyond it every k-th successful op is drawn (failures always are). */
const MAX_POINTS = 4000;

async function render(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function latencySpec(summary: RunSummary, ops: readonly Op[]): vl.TopLevelSpec {
  const okOps = ops.filter((o) => o.outcome === 'ok');
  const stride = Math.max(1, Math.ceil(okOps.length / MAX_POINTS));
  const points = okOps.filter((_, i) => i % stride === 0).map((o) => ({ t: o.invokeMs / 1000, latency: Math.max(0.05, o.completeMs - o.invokeMs), op: o.type }));
  const failures = ops.filter((o) => o.outcome !== 'ok').map((o) => ({ t: o.invokeMs / 1000, outcome: o.outcome === 'fail' ? 'refused (fail)' : 'unknown (timeout)' }));
  const fault = summary.faultWindow ? [{ from: summary.faultWindow.fromMs / 1000, to: summary.faultWindow.toMs / 1000, label: summary.scenario }] : [];
  const xScale = { domain: [0, summary.settings.durationS] };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `${summary.topology} / ${summary.scenario}: latency of each operation`, subtitle: `${summary.description}; shaded: the fault; ticks on top: failed or unknown operations` },
    width: 720,
    height: 300,
    layer: [
      ...(fault.length > 0
        ? [{ data: { values: fault }, mark: { type: 'rect' as const, color: '#f4a261', opacity: 0.25 }, encoding: { x: { field: 'from', type: 'quantitative' as const, scale: xScale }, x2: { field: 'to' } } }]
        : []),
      {
        data: { values: points },
        mark: { type: 'circle' as const, size: 10, opacity: 0.6 },
        encoding: {
          x: { field: 't', type: 'quantitative' as const, title: 'time since start (s)', scale: xScale },
          y: { field: 'latency', type: 'quantitative' as const, title: 'latency (ms, log)', scale: { type: 'log' as const } },
          color: { field: 'op', type: 'nominal' as const, title: 'operation', scale: { domain: ['incr', 'read'], range: ['#1d3557', '#2a9d8f'] } },
        },
      },
      ...(failures.length > 0
        ? [{
            data: { values: failures },
            mark: { type: 'tick' as const, thickness: 1, size: 12 },
            encoding: {
              x: { field: 't', type: 'quantitative' as const, scale: xScale },
              y: { value: 6 },
              color: { field: 'outcome', type: 'nominal' as const, title: 'not ok', scale: { domain: ['refused (fail)', 'unknown (timeout)'], range: ['#e63946', '#8d99ae'] } },
            },
          }]
        : []),
    ],
    resolve: { scale: { color: 'independent' } },
  } as vl.TopLevelSpec;
}

export function availabilitySpec(summary: RunSummary): vl.TopLevelSpec {
  const values = summary.availability.filter((a) => a.op !== 'all').map((a) => ({ phase: a.phase, side: a.side, op: a.op, available: a.fraction, label: `${a.ok}/${a.total}` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `${summary.topology} / ${summary.scenario}: share of operations that succeeded`, subtitle: 'per phase, per side of the fault' },
    data: { values },
    facet: { column: { field: 'op', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'phase', type: 'nominal', sort: ['before', 'during', 'after'], title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'side', type: 'nominal' },
        y: { field: 'available', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '%' }, title: 'succeeded' },
        color: { field: 'side', type: 'nominal', title: 'side' },
        tooltip: [{ field: 'label' }],
      },
    },
  } as vl.TopLevelSpec;
}

export async function renderCharts(summary: RunSummary, ops: readonly Op[]): Promise<{ latency: string; availability: string }> {
  return { latency: await render(latencySpec(summary, ops)), availability: await render(availabilitySpec(summary)) };
}
