/** A small SVG line chart for benchmark curves (figures against participants), no dependencies. */
import { escapeXml } from './figures';

export interface ChartSeries {
  label: string;
  points: Array<[x: number, y: number]>;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** A horizontal line marking a limit or target. */
  limit?: { y: number; label: string };
}

const COLORS = ['#1f5fa8', '#c8641b', '#2e8b57', '#8e44ad', '#b03a48', '#5d6d7e'];

/** A step for about five grid lines up to `max` (1, 2 or 5 times a power of ten). */
function niceStep(max: number): number {
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power * 10;
}

export function lineChart(chart: LineChart): string {
  const width = 760;
  const height = 420;
  const margin = { top: 56, right: 24, bottom: 52, left: 64 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const xStep = niceStep(Math.max(1, ...xs));
  const yStep = niceStep(Math.max(chart.limit ? chart.limit.y * 1.2 : 0, ...ys, 1e-9));
  const xMax = Math.ceil(Math.max(1, ...xs) / xStep) * xStep;
  const yMax = Math.ceil(Math.max(chart.limit ? chart.limit.y * 1.2 : 0, ...ys, 1e-9) / yStep) * yStep;
  const x = (v: number) => margin.left + (v / xMax) * plotWidth;
  const y = (v: number) => margin.top + plotHeight - (Math.min(v, yMax) / yMax) * plotHeight;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    parts.push(`<line x1="${margin.left}" y1="${y(v)}" x2="${margin.left + plotWidth}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${+v.toFixed(6)}</text>`);
  }
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    parts.push(`<text x="${x(v)}" y="${margin.top + plotHeight + 16}" text-anchor="middle" fill="#555">${+v.toFixed(6)}</text>`);
  }
  parts.push(`<line x1="${margin.left}" y1="${y(0)}" x2="${margin.left + plotWidth}" y2="${y(0)}" stroke="#333"/>`);
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${y(0)}" stroke="#333"/>`);
  if (chart.limit) {
    parts.push(`<line x1="${margin.left}" y1="${y(chart.limit.y)}" x2="${margin.left + plotWidth}" y2="${y(chart.limit.y)}" stroke="#d00" stroke-dasharray="5,3"/>`);
    parts.push(`<text x="${margin.left + plotWidth - 4}" y="${y(chart.limit.y) - 4}" text-anchor="end" fill="#d00">${escapeXml(chart.limit.label)}</text>`);
  }
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const path = s.points.map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [px, py] of s.points) {
      parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.label}: ${px} → ${+py.toFixed(3)}`)}</title></circle>`);
    }
    // The legend stacks in the plot's top left corner (run names are long).
    const ly = margin.top + 8 + 15 * i;
    parts.push(`<rect x="${margin.left + 10}" y="${ly}" width="10" height="10" fill="${color}"/><text x="${margin.left + 24}" y="${ly + 9}">${escapeXml(s.label)}</text>`);
  });
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle" fill="#333">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text x="16" y="${margin.top + plotHeight / 2}" transform="rotate(-90 16 ${margin.top + plotHeight / 2})" text-anchor="middle" fill="#333">${escapeXml(chart.yLabel)}</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
