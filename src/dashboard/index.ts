/**
 * hotpath/dashboard: a live page over the monitor — latency percentiles per route, throughput,
 * status classes, event loop, heap and GC, cache hit ratio per tier, shedding and rate limits,
 * alerts and recommendations — streamed over SSE with uPlot charts, a history ring, several
 * instances in one view through Redis, figures streamed in from a load tester, and a snapshot
 * export as one HTML file. Extra panels (database, bus, WebSocket) plug in with `addPanel()`.
 */
export {
  createDashboard,
  Dashboard,
  type DashboardState,
  type Hello,
  type InstanceRecommendations,
  type Tick,
} from './dashboard.js'
export type { DashboardOptions } from './options.js'
export {
  type DashboardPanel,
  type DashboardTable,
  type MetricPanelOptions,
  metricPanel,
  type PanelContext,
} from './panels.js'
export { type DashboardPluginOptions, dashboardPlugin, dashboardPlugin as default } from './plugin.js'
export type { ShareOptions, ShareRedisLike, ShareSubscriberLike } from './share-options.js'
export type { AlertTransition, Frame, InstanceTable, PanelInfo, RouteFigures, TableInfo } from './types.js'
