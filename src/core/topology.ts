/**
 * Which client a connection value asks for (decided here, and only here), where it points, in a
 * printable form without secrets, and which server it is (to tell whether two lock votes would be
 * cast by one server).
 */
import type { ClusterNodeInput } from './config.js';
import { redactUrl } from './redact.js';
import { isPlainObject } from './schema.js';

export type Topology = 'standalone' | 'cluster' | 'sentinel';

/** Which client a connection value asks for: `{ nodes }` is a Cluster, `{ sentinels }` a Sentinel group, anything else one server. */
export function topologyOf(connection: unknown): Topology {
  if (isPlainObject(connection)) {
    if (connection.nodes !== undefined) return 'cluster';
    if (connection.sentinels !== undefined) return 'sentinel';
  }
  return 'standalone';
}

/** A printable description of where a (valid) connection points, with no secrets. */
export function describeEndpoint(topology: Topology, connection: unknown): string {
  if (typeof connection === 'string') return redactUrl(connection);
  const o = (isPlainObject(connection) ? connection : {}) as Record<string, unknown>;
  if (topology === 'cluster') {
    const nodes = (o.nodes as ClusterNodeInput[]).map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : redactUrl(String(n))));
    return `cluster ${nodes.join(',')}`;
  }
  if (topology === 'sentinel') {
    const s = (o.sentinels as Array<{ host?: string; port?: number }>).map((n) => `${n.host ?? '127.0.0.1'}:${n.port ?? 26379}`);
    return `sentinel ${String(o.name)}@${s.join(',')}`;
  }
  if (typeof o.url === 'string') return redactUrl(o.url);
  const socket = (o.path as string | undefined) ?? (o.socket as { socketPath?: string } | undefined)?.socketPath;
  if (socket) return `unix:${socket}`;
  return `${o.tls ? 'rediss' : 'redis'}://${(o.host as string | undefined) ?? '127.0.0.1'}:${(o.port as number | undefined) ?? 6379}/${(o.db as number | undefined) ?? 0}`;
}

/** The server a connection points at (not its database), to tell whether two votes are one server. */
export function serverOf(connection: unknown): string {
  const topology = topologyOf(connection);
  if (typeof connection === 'string' || (isPlainObject(connection) && typeof connection.url === 'string' && topology === 'standalone')) {
    const u = new URL(typeof connection === 'string' ? connection : (connection as { url: string }).url);
    return `${u.hostname}:${u.port || 6379}`;
  }
  const o = connection as Record<string, unknown>;
  if (topology === 'standalone')
    return o.path ? `unix:${String(o.path)}` : `${(o.host as string | undefined) ?? '127.0.0.1'}:${(o.port as number | undefined) ?? 6379}`;
  return describeEndpoint(topology, connection);
}
