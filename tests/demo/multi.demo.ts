/**
 * `npm run demo -- --instances 2 --cluster`: two instances behind one Redis Cluster of the
 * demo's own (3 masters + 3 replicas); the tour writes on A and reads on B, shares sessions, the
 * rate limit, the login limiter and the Apollo cache between them, and runs each cron tick once.
 * Its ports are free ones given through PORT, so that it can run beside single.demo.ts.
 */
import { describeDemo } from './scenario.js';

describeDemo({ args: ['--instances', '2', '--cluster'], ports: 'free', multi: true, admin: true, browser: false });
