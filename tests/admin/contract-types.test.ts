/**
 * The admin panel keeps its own copy of the API's response types (admin/src/api/types.ts: it is
 * built and shipped apart from the server bundle and imports no server code). This file makes the
 * copy and the server's types one contract: `npm run typecheck` fails when either side changes a
 * shape without the other. The runtime check below only keeps vitest from calling the file empty.
 */
import { expect, it } from 'vitest';
import type * as Panel from '../../admin/src/api/types.js';
import type * as Api from '../../src/admin-api/index.js';
import type { ServerStats } from '../../src/core/info.js';
import type { Feature } from '../../src/core/usage.js';

/** true only when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const contract: {
  feature: Same<Panel.Feature, Feature>;
  connection: Same<Panel.ConnectionView, Api.ConnectionView>;
  serverInfo: Same<Panel.ServerInfoView, ServerStats>;
  serverNode: Same<Panel.ServerNodeView, Api.ServerNodeView>;
  server: Same<Panel.ServerView, Api.ServerView>;
  keyRow: Same<Panel.KeyRow, Api.KeyRow>;
  keyPage: Same<Panel.KeyPage, Api.KeyPage>;
  keyValue: Same<Panel.KeyValue, Api.KeyValue>;
  keyValueWithheld: Same<Panel.KeyValue['withheld'], Api.KeyValue['withheld']>;
  // The route answers the result without the pattern it was given.
  deleteByPattern: Same<Panel.DeleteByPatternResult, Omit<Api.DeleteByPatternResult, 'pattern'>>;
  protectedRefusal: Same<Panel.ProtectedRefusal['protected'], NonNullable<Api.AdminErrorDetails['protected']>>;
  cache: Same<Panel.CacheView, Api.CacheView>;
  cronTask: Same<Panel.CronTaskView, Api.CronTaskView>;
  cron: Same<Panel.CronView, Api.CronView>;
  stats: Same<Panel.StatsView, Api.StatsView>;
  healthNode: Same<Panel.HealthNodeSeries, Api.HealthNodeSeries>;
  healthSampler: Same<Panel.HealthSamplerStatus, Api.HealthSamplerStatus>;
  health: Same<Panel.HealthView, Api.HealthView>;
  slowlogEntry: Same<Panel.SlowlogEntryView, Api.SlowlogEntryView>;
  slowlogNode: Same<Panel.SlowlogNodeView, Api.SlowlogNodeView>;
  slowlog: Same<Panel.SlowlogView, Api.SlowlogView>;
  memoryPage: Same<Panel.MemoryPage, Api.MemoryPage>;
  // The route answers the result without the key and the request.
  ttl: Same<Panel.TtlEditResult, Omit<Api.TtlEditResult, 'key' | 'requested'>>;
} = {
  feature: true,
  connection: true,
  serverInfo: true,
  serverNode: true,
  server: true,
  keyRow: true,
  keyPage: true,
  keyValue: true,
  keyValueWithheld: true,
  deleteByPattern: true,
  protectedRefusal: true,
  cache: true,
  cronTask: true,
  cron: true,
  stats: true,
  healthNode: true,
  healthSampler: true,
  health: true,
  slowlogEntry: true,
  slowlogNode: true,
  slowlog: true,
  memoryPage: true,
  ttl: true,
};

it('the panel and the server agree on every response shape (checked by the type checker)', () => {
  expect(Object.values(contract).every((v) => v === true)).toBe(true);
});
