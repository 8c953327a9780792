/** One time-series chart of the dashboard, drawn by uPlot; new data redraws it in place. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
}

const HEIGHT = 180;
/** The drawing's width: the box's, less its padding. */
const widthOf = (element: HTMLElement) => Math.max(280, element.clientWidth - 16);

const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

/** The n-th series colour. */
export function seriesColor(n: number): string {
  return PALETTE[n % PALETTE.length]!;
}

export function Chart(props: {
  testId: string;
  title: string;
  series: ChartSeries[];
  /** Unix seconds, then one array per series. */
  data: uPlot.AlignedData;
  /** Y-axis values as text (units). */
  format?: (value: number) => string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The series set (e.g. the number of workers) fixes the chart's shape: a new one rebuilds it.
  const shape = props.series.map((s) => s.label).join('|');

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const format = props.format;
    const chart = new uPlot({
      title: props.title,
      width: widthOf(element),
      height: HEIGHT,
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, points: { show: false } }))],
      axes: [{}, { size: 90, ...(format ? { values: (_u: uPlot, ticks: number[]) => ticks.map(format) } : {}) }],
      scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: false },
    }, props.data, element);
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: widthOf(element), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);

  return <div class="chart" data-testid={props.testId} ref={host} />;
}
