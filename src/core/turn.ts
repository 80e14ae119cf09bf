/**
 * One write per node for a batch of commands: how a feature sends the commands that the requests
 * of one event-loop turn issued.
 *
 * Requests that arrive together (the sockets one poll phase reads) each need their Redis command
 * in the same turn. Sent one by one, each is its own socket write, its own reply read, its own
 * bound timer and its own promise chain, which is where a busy instance spends its time when every
 * request has its own key (a rate limit per client IP). A feature collects the commands of a turn
 * (`TurnBatch`, flushed in the turn's check phase, `setImmediate`, after every request of the poll
 * phase has asked) and sends them with `execPerNode`: one pipeline on standalone and Sentinel, one
 * per node on a Cluster (found from each key's slot and the client's slot map, as ioredis' own
 * auto-pipelining groups them), run inside one `connection.run()`, so the batch has one bound.
 * Each command keeps its own reply or error.
 *
 * Why not ioredis' `enableAutoPipelining`: it is a client option, so it would change every command
 * of a connection the user configured (and of a raw client the user passed in), and it keeps one
 * promise and one bound per command; this batches only the request-path commands that ask for it.
 *
 * A command answered with a Cluster redirection inside a pipeline (MOVED/ASK/TRYAGAIN while slots
 * move) is sent again on its own, where ioredis follows the redirection.
 */
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/** A pipeline holds at most this many commands; the rest of a node's batch goes in the next (each is one write). */
export const MAX_PIPELINE_COMMANDS = 512;

/** One command of a batch. */
export interface BatchedCommand<T> {
  /** Its first key: picks the node on a Cluster. */
  readonly key: string;
  /** Queue exactly one command on `pipeline`. */
  add(pipeline: ChainableCommander): void;
  /** The same command by itself (the only command for its node, or a Cluster redirection). */
  alone(): Promise<T>;
}

/** The outcome of one command. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

const REDIRECTION = /^(MOVED|ASK|TRYAGAIN) /;

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** The node group of `key` on a Cluster: the nodes of its slot, or the slot itself before the slot map is known. */
function groupOf(client: RedisClient, key: string): string {
  if (!client.isCluster) return '';
  const prefix = (client.options as { keyPrefix?: string }).keyPrefix ?? '';
  const slot = calculateSlot(prefix + key);
  const nodes = (client as Cluster).slots[slot];
  return nodes && nodes.length > 0 ? nodes.join(',') : `slot ${slot}`;
}

/** Send `commands` as one pipeline per node (at most MAX_PIPELINE_COMMANDS each; a node's only command by itself); settles each in order. */
export async function execPerNode<T>(client: RedisClient, commands: readonly BatchedCommand<T>[]): Promise<Settled<T>[]> {
  const groups = new Map<string, number[]>();
  commands.forEach((command, i) => {
    const id = groupOf(client, command.key);
    const group = groups.get(id);
    if (group) group.push(i);
    else groups.set(id, [i]);
  });
  const out: Settled<T>[] = new Array(commands.length);
  const sendPart = async (part: number[]): Promise<void> => {
    if (part.length === 1) {
      // One command for its node: sent by itself, no pipeline to build (ioredis follows a redirection on its own).
      const i = part[0]!;
      out[i] = await commands[i]!.alone().then(
        (value): Settled<T> => ({ ok: true, value }),
        (err: unknown): Settled<T> => ({ ok: false, error: asError(err) }),
      );
      return;
    }
    let replies: [Error | null, unknown][] | null;
    try {
      const pipeline = client.pipeline();
      for (const i of part) commands[i]!.add(pipeline);
      replies = await pipeline.exec();
    } catch (err) {
      for (const i of part) out[i] = { ok: false, error: asError(err) };
      return;
    }
    await Promise.all(
      part.map(async (i, j) => {
        const [err, value] = replies?.[j] ?? [new Error('no reply in the pipeline'), undefined];
        if (!err) out[i] = { ok: true, value: value as T };
        else if (client.isCluster && REDIRECTION.test(err.message)) {
          out[i] = await commands[i]!.alone().then(
            (v): Settled<T> => ({ ok: true, value: v }),
            (e: unknown): Settled<T> => ({ ok: false, error: asError(e) }),
          );
        } else out[i] = { ok: false, error: err };
      }),
    );
  };
  const parts: Promise<void>[] = [];
  for (const indexes of groups.values()) {
    for (let from = 0; from < indexes.length; from += MAX_PIPELINE_COMMANDS) parts.push(sendPart(indexes.slice(from, from + MAX_PIPELINE_COMMANDS)));
  }
  await Promise.all(parts);
  return out;
}

/**
 * The items one turn of the event loop adds, handed to `flush` together in that turn's check
 * phase. A new batch starts with the next item.
 */
export class TurnBatch<Item> {
  #items: Item[] | undefined;
  readonly #flush: (items: Item[]) => void;

  constructor(flush: (items: Item[]) => void) {
    this.#flush = flush;
  }

  add(item: Item): void {
    if (this.#items) {
      this.#items.push(item);
      return;
    }
    const items = [item];
    this.#items = items;
    setImmediate(() => {
      this.#items = undefined;
      this.#flush(items);
    });
  }
}
