/**
 * Line charts drawn as SVG (the design system has no chart; see docs/admin-api.md, "Charts"):
 * a time axis over the window, or over the series' age while it is younger (gaps where a point has
 * no value), one line per series, a horizontal reference line (e.g. maxmemory; left off the scale,
 * and said so in the legend, when it is far above the data), a legend with each series' latest
 * value, and the values under the pointer. Colours come from the design system's theme, so dark mode works.
 * `Sparkline` is the same drawing, small, with no axis or legend.
 */
import * as React from 'react';
import { Box, Flex, Typography } from '@strapi/design-system';
import { useTheme } from 'styled-components';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

const WIDTH = 600;

/** The theme colours lines use, in order. */
function palette(theme: ReturnType<typeof useTheme>): string[] {
  const c = (theme?.colors ?? {}) as unknown as Record<string, string>;
  return [c.primary600, c.success600, c.warning600, c.danger600, c.secondary600, c.alternative600, c.neutral600].map(
    (v, i) => v ?? ['#4945ff', '#328048', '#d9822f', '#d02b20', '#0c75af', '#ac73e6', '#666687'][i]!,
  );
}

/** SVG path of one series: segments broken where a value is missing. */
function pathOf(t: number[], values: (number | null)[], x: (t: number) => number, y: (v: number) => number): string {
  let d = '';
  let open = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined || !Number.isFinite(v)) {
      open = false;
      return;
    }
    d += `${open ? 'L' : 'M'}${x(t[i]!).toFixed(1)},${y(v).toFixed(1)}`;
    open = true;
  });
  return d;
}

/** Dots for values with no neighbour (a segment of one point draws nothing). */
function lonely(values: (number | null)[]): number[] {
  const has = (i: number) => values[i] !== null && values[i] !== undefined;
  return values.flatMap((_, i) => (has(i) && !has(i - 1) && !has(i + 1) ? [i] : []));
}

/** A reference line this many times above the data is left off the scale (shown in the legend only). */
const OFF_SCALE = 4;

/** The top of the y axis, and whether the reference line fits under it. */
function scale(series: ChartSeries[], reference?: number | null): { max: number; drawReference: boolean } {
  let max = 0;
  for (const line of series) for (const v of line.values) if (v !== null && v > max) max = v;
  const drawReference = !!reference && reference > 0 && (max === 0 ? false : reference <= max * OFF_SCALE);
  if (drawReference) max = Math.max(max, reference!);
  return { max: max > 0 ? max * 1.1 : 1, drawReference };
}

/**
 * The time axis: the window, or less while the series is younger than it (a fresh app's few
 * seconds would otherwise be a sliver at the right edge).
 */
function timeAxis(t: number[], windowMs: number, now: number): { start: number; span: number } {
  const start = t.length >= 2 ? Math.max(now - windowMs, t[0]!) : now - windowMs;
  return { start, span: Math.max(1, now - start) };
}

const ago = (ms: number): string => (ms >= 90_000 ? `${Math.round(ms / 60_000)} min ago` : `${Math.max(1, Math.round(ms / 1000))} s ago`);

export const LineChart = ({
  title,
  t,
  series,
  format,
  windowMs,
  now,
  reference,
  referenceLabel,
  height = 140,
  testId,
}: {
  title: string;
  t: number[];
  series: ChartSeries[];
  format: (value: number | null) => string;
  windowMs: number;
  now: number;
  /** A horizontal line (e.g. maxmemory); drawn only when > 0. */
  reference?: number | null;
  referenceLabel?: string;
  height?: number;
  testId?: string;
}) => {
  const theme = useTheme();
  const colors = palette(theme);
  const neutral = ((theme?.colors ?? {}) as unknown as Record<string, string>).neutral150 ?? '#eaeaef';
  const [hover, setHover] = React.useState<number | null>(null);
  const { start, span } = timeAxis(t, windowMs, now);
  const { max, drawReference } = scale(series, reference);
  const x = (time: number) => ((time - start) / span) * WIDTH;
  const y = (v: number) => height - (v / max) * (height - 4) - 2;
  const last = (values: (number | null)[]) => {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
    return null;
  };
  const onMove = (event: React.MouseEvent<HTMLDivElement>) => {
    if (t.length === 0) return;
    const box = event.currentTarget.getBoundingClientRect();
    const at = start + ((event.clientX - box.left) / box.width) * span;
    let best = 0;
    for (let i = 1; i < t.length; i++) if (Math.abs(t[i]! - at) < Math.abs(t[best]! - at)) best = i;
    setHover(best);
  };
  const shown = hover !== null && hover < t.length ? hover : null;
  return (
    <Box background="neutral0" hasRadius shadow="tableShadow" padding={4} data-testid={testId}>
      <Flex justifyContent="space-between" alignItems="baseline" paddingBottom={2}>
        <Typography variant="sigma" textColor="neutral600">
          {title}
        </Typography>
        <Typography variant="pi" textColor="neutral500">
          {`max ${format(max / 1.1)}`}
        </Typography>
      </Flex>
      <div style={{ position: 'relative' }} onMouseMove={onMove} onMouseLeave={() => setHover(null)}>
        <svg
          viewBox={`0 0 ${WIDTH} ${height}`}
          preserveAspectRatio="none"
          width="100%"
          height={height}
          role="img"
          aria-label={`${title}: ${series.map((line) => `${line.label} ${format(last(line.values))}`).join(', ')}`}
          style={{ display: 'block' }}
        >
          {[0.25, 0.5, 0.75].map((f) => (
            <line key={f} x1={0} x2={WIDTH} y1={height * f} y2={height * f} stroke={neutral} strokeWidth={1} vectorEffect="non-scaling-stroke" />
          ))}
          {drawReference && reference ? (
            <line
              x1={0}
              x2={WIDTH}
              y1={y(reference)}
              y2={y(reference)}
              stroke={colors[3]}
              strokeDasharray="6 4"
              strokeWidth={1}
              vectorEffect="non-scaling-stroke"
              data-testid="chart-reference"
            />
          ) : null}
          {series.map((line, i) => (
            <g key={line.label}>
              <path
                d={pathOf(t, line.values, x, y)}
                fill="none"
                stroke={colors[i % colors.length]}
                strokeWidth={2}
                vectorEffect="non-scaling-stroke"
                strokeLinejoin="round"
              />
              {lonely(line.values).map((j) => (
                <circle key={j} cx={x(t[j]!)} cy={y(line.values[j]!)} r={2.5} fill={colors[i % colors.length]} />
              ))}
            </g>
          ))}
          {shown !== null ? (
            <line x1={x(t[shown]!)} x2={x(t[shown]!)} y1={0} y2={height} stroke={colors[6]} strokeWidth={1} vectorEffect="non-scaling-stroke" />
          ) : null}
        </svg>
        {shown !== null ? (
          <Box
            background="neutral0"
            hasRadius
            shadow="popupShadow"
            padding={2}
            style={{ position: 'absolute', top: 4, left: `${Math.min(70, (x(t[shown]!) / WIDTH) * 100)}%`, pointerEvents: 'none', whiteSpace: 'nowrap' }}
          >
            <Typography variant="pi" tag="div" textColor="neutral600">
              {new Date(t[shown]!).toLocaleTimeString('en-GB')}
            </Typography>
            {series.map((line, i) => (
              <Typography key={line.label} variant="pi" tag="div" style={{ color: colors[i % colors.length] }}>
                {`${line.label}: ${format(line.values[shown] ?? null)}`}
              </Typography>
            ))}
          </Box>
        ) : null}
      </div>
      <Flex justifyContent="space-between" paddingTop={1}>
        <Typography variant="pi" textColor="neutral500">
          {ago(now - start)}
        </Typography>
        <Typography variant="pi" textColor="neutral500">
          now
        </Typography>
      </Flex>
      <Flex gap={4} wrap="wrap" paddingTop={2}>
        {series.map((line, i) => {
          const value = last(line.values);
          return (
            <Flex key={line.label} gap={1} alignItems="center" data-testid="chart-legend" data-label={line.label} data-value={value ?? ''}>
              <span style={{ display: 'inline-block', width: 10, height: 10, borderRadius: 2, background: colors[i % colors.length] }} />
              <Typography variant="pi">{`${line.label}: ${format(value)}`}</Typography>
            </Flex>
          );
        })}
        {reference && reference > 0 && referenceLabel ? (
          <Flex gap={1} alignItems="center" data-testid="chart-legend-reference" data-value={reference}>
            <span style={{ display: 'inline-block', width: 10, height: 2, background: colors[3] }} />
            <Typography variant="pi">{`${referenceLabel}: ${format(reference)}${drawReference ? '' : ' (off the scale)'}`}</Typography>
          </Flex>
        ) : null}
      </Flex>
    </Box>
  );
};

/** A small line without axes: the dashboard's cards. */
export const Sparkline = ({
  t,
  values,
  windowMs,
  now,
  reference,
  height = 36,
  label,
  testId,
}: {
  t: number[];
  values: (number | null)[];
  windowMs: number;
  now: number;
  reference?: number | null;
  height?: number;
  label: string;
  testId?: string;
}) => {
  const theme = useTheme();
  const colors = palette(theme);
  const { start, span } = timeAxis(t, windowMs, now);
  const { max, drawReference } = scale([{ label, values }], reference);
  const x = (time: number) => ((time - start) / span) * WIDTH;
  const y = (v: number) => height - (v / max) * (height - 4) - 2;
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${height}`}
      preserveAspectRatio="none"
      width="100%"
      height={height}
      role="img"
      aria-label={label}
      data-testid={testId}
      data-points={values.filter((v) => v !== null).length}
      style={{ display: 'block' }}
    >
      {drawReference && reference ? (
        <line
          x1={0}
          x2={WIDTH}
          y1={y(reference)}
          y2={y(reference)}
          stroke={colors[3]}
          strokeDasharray="6 4"
          strokeWidth={1}
          vectorEffect="non-scaling-stroke"
        />
      ) : null}
      <path d={pathOf(t, values, x, y)} fill="none" stroke={colors[0]} strokeWidth={2} vectorEffect="non-scaling-stroke" strokeLinejoin="round" />
    </svg>
  );
};

/** Per index, the sum of the values of several series (null where none has a value). */
export function sumSeries(list: (number | null)[][], length: number): (number | null)[] {
  return Array.from({ length }, (_, i) => {
    let total: number | null = null;
    for (const values of list) {
      const v = values[i];
      if (v !== null && v !== undefined) total = (total ?? 0) + v;
    }
    return total;
  });
}
