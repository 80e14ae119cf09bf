/**
 * One write per node for the commands of one event-loop turn.
 *
 * Requests that arrive together (the sockets one poll phase reads) each issue their Redis command
 * in the same turn. Sent one by one, each is its own socket write and its own reply read on both
 * sides, which is where a busy instance spends its time when every request has its own key (a rate
 * limit per client IP, a session per cookie). `inTurn` queues a command on a pipeline of this turn
 * instead, and the turn's pipelines are written in its check phase (`setImmediate`, after every
 * request of the poll phase has asked): on standalone and Sentinel one pipeline; on a Cluster one
 * per node, found from the key's slot and the client's slot map, as ioredis' own auto-pipelining
 * groups them. Each command keeps its own reply, its own error and its own bound (the caller runs
 * `inTurn` inside `connection.run()`), so nothing is shared but the write.
 *
 * Why not ioredis' `enableAutoPipelining`: it is a client option, so it would change every
 * command of a connection the user configured (and a raw client the user passed in); this does it
 * for the request-path commands that ask for it, on any client.
 *
 * A command answered with a Cluster redirection inside a pipeline (MOVED/ASK while slots move) is
 * sent again on its own, where ioredis follows the redirection.
 */
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/** A turn's pipeline holds at most this many commands; the next starts another (each is one write). */
export const MAX_TURN_COMMANDS = 512;

/** Adds the command to `pipeline`, passing `done` as its callback (ioredis' last-argument callback). */
export type QueueCommand<T> = (pipeline: ChainableCommander, done: (err: Error | null | undefined, value?: T) => void) => void;

interface TurnGroup {
  pipeline: ChainableCommander;
  size: number;
}

/** The pipelines of the current turn, per client, by node group. */
const turns = new WeakMap<RedisClient, Map<string, TurnGroup>>();

const REDIRECTION = /^(MOVED|ASK|TRYAGAIN) /;

/** The node group of `key` on a Cluster: the nodes of its slot, or the slot itself before the slot map is known. */
function groupOf(client: RedisClient, key: string): string {
  if (!client.isCluster) return '';
  const prefix = (client.options as { keyPrefix?: string }).keyPrefix ?? '';
  const slot = calculateSlot(prefix + key);
  const nodes = (client as Cluster).slots[slot];
  return nodes && nodes.length > 0 ? nodes.join(',') : `slot ${slot}`;
}

function send(group: TurnGroup): void {
  // Each command's reply and error reach its own callback; the batch's promise has nothing to add.
  group.pipeline.exec().catch(() => undefined);
}

/**
 * Queue one command (its first key `key`) for this turn's write to its node; resolves with its
 * reply. `alone` sends the same command by itself: used for a Cluster redirection.
 */
export function inTurn<T>(client: RedisClient, key: string, queue: QueueCommand<T>, alone: () => Promise<T>): Promise<T> {
  let groups = turns.get(client);
  if (!groups) {
    const current = new Map<string, TurnGroup>();
    turns.set(client, current);
    setImmediate(() => {
      turns.delete(client);
      for (const group of current.values()) send(group);
    });
    groups = current;
  }
  const id = groupOf(client, key);
  let group = groups.get(id);
  if (!group || group.size >= MAX_TURN_COMMANDS) {
    if (group) send(group);
    group = { pipeline: client.pipeline(), size: 0 };
    groups.set(id, group);
  }
  group.size++;
  const pipeline = group.pipeline;
  return new Promise<T>((resolve, reject) => {
    queue(pipeline, (err, value) => {
      if (!err) resolve(value as T);
      else if (client.isCluster && REDIRECTION.test(err.message)) alone().then(resolve, reject);
      else reject(err);
    });
  });
}
