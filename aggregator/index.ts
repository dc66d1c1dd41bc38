// The aggregator's entry point, for the wiring and the readers of its figures.
export { openAggregator, type Aggregator, type AggregatorOptions, type StatsBody } from './aggregator.ts';
export type { TotalsReader } from './live-totals.ts';
export type { MilestoneReader } from './milestones.ts';
