// redlock 5.0.0-beta.2 ships its types at dist/index.d.ts but its "exports" map has no "types"
// condition, so TypeScript's NodeNext resolution cannot find them. This is the subset the suite uses.
declare module 'redlock' {
  import { EventEmitter } from 'node:events';

  export interface Settings {
    readonly driftFactor: number;
    readonly retryCount: number;
    readonly retryDelay: number;
    readonly retryJitter: number;
    readonly automaticExtensionThreshold: number;
  }
  export interface ExecutionStats {
    readonly membershipSize: number;
    readonly quorumSize: number;
    readonly votesFor: Set<unknown>;
    readonly votesAgainst: Map<unknown, Error>;
  }
  export class ResourceLockedError extends Error {}
  export class ExecutionError extends Error {
    readonly attempts: ReadonlyArray<Promise<ExecutionStats>>;
  }
  export class Lock {
    readonly resources: string[];
    readonly value: string;
    expiration: number;
    release(): Promise<unknown>;
    extend(duration: number): Promise<Lock>;
  }
  /** Anything with ioredis' evalsha/eval signatures. */
  export interface RedlockClient {
    evalsha(hash: string, numKeys: number, args: Array<string | number>): Promise<unknown>;
    eval(script: string, numKeys: number, args: Array<string | number>): Promise<unknown>;
  }
  export default class Redlock extends EventEmitter {
    constructor(clients: Iterable<RedlockClient>, settings?: Partial<Settings>);
    acquire(resources: string[], duration: number, settings?: Partial<Settings>): Promise<Lock>;
    release(lock: Lock, settings?: Partial<Settings>): Promise<unknown>;
    extend(lock: Lock, duration: number, settings?: Partial<Settings>): Promise<Lock>;
  }
}
