/**
 * `hotpath/loadtest`: the load tester behind `hotpath loadtest`. Open model (constant, ramping and
 * stair arrival rates, latency from each request's intended send time, dropped and late sends
 * counted) and closed model (virtual users, think time), exactly mergeable HDR histograms,
 * thresholds, scenario files and the seeds' presets, JSON reports.
 */
export {
  type BaselineComparison,
  compareWithBaseline,
  type FigureComparison,
  formatComparison,
} from './baseline.js'
export {
  type BreakingPointOptions,
  type BreakingPointResult,
  findBreakingPoint,
  judgeStep,
  knee,
  type StepResult,
} from './breaking-point.js'
export { type Location, ReportFileError, ScenarioError } from './errors.js'
export { LatencyHistogram, type LatencySummary, SUMMARY_PERCENTILES } from './histogram.js'
export { renderHtml } from './html.js'
export type { LoadTestOptions, ResolvedLoadTest } from './options.js'
export { resolveLoadTestOptions } from './options.js'
export { PRESETS, type PresetName, preset } from './presets.js'
export {
  checkThresholds,
  figuresOf,
  formatMs,
  formatReport,
  type LoadTestReport,
  mergeReports,
  REPORT_FORMAT,
  readReport,
  type StopReason,
} from './report.js'
export { type LiveFigures, runLoadTest } from './run.js'
export type { ScenarioSpec, StepSpec, Vars } from './scenario.js'
export { validateScenario } from './scenario.js'
export { loadScenarioFile, parseScenarioText } from './scenario-file.js'
export { ArrivalSchedule, peakRate, type RateStage, rateAt, scheduleLength, stairs } from './schedule.js'
export { parseExposition, reduceScrape, type ServerSample } from './scrape.js'
export type { Outcome, SendCounters, TimelinePoint } from './stats.js'
export { type Figures, parseThreshold, type Threshold, type ThresholdResult } from './thresholds.js'
export { runLoadTestInWorkers } from './workers.js'
