// How `plan`, `estimate` and `baselines` show what a `--profile` covered: a source column next to the
// time terms, and the profile's notes (extrapolations, stand-ins, what stayed analytic) under them.
import type { TermSource } from '../profile/coverage.js';
import { colors } from './format.js';

export const PROFILE_HELP =
  'measured profile (galvatron.profile/v2 from `galvatron profile`, v1, or Galvatron profile JSON): replaces the analytic ' +
  'layer times, bandwidths and λ it covers; repeat to combine files (compute from one, hardware from another)';

export interface SourceColumn {
  header: string[];
  align: ('left' | 'right')[];
  /** The source of a term (no name: an empty cell, for a total row). */
  cell(name?: string): string[];
}

/** A "source" column for a table of time terms, or no column when nothing was profiled. */
export function sourceColumn(sources: Record<string, TermSource> | undefined): SourceColumn {
  if (!sources) return { header: [], align: [], cell: () => [] };
  const paint = (s: TermSource) => (s === 'profiled' ? colors.green(s) : s === 'mixed' ? colors.yellow(s) : colors.dim(s));
  return {
    header: ['source'],
    align: ['left'],
    cell: (name) => (name === undefined ? [''] : [paint(sources[name] ?? 'analytic')]),
  };
}

/** The profile's notes as lines for people (none without notes). */
export function profileLines(notes: readonly string[]): string[] {
  if (notes.length === 0) return [];
  return ['', colors.bold('Profile') + colors.dim(' (how the measured numbers were used)'), ...notes.map((n) => `  - ${n}`)];
}
