/**
 * `npm run demo` as the README says to run it: one instance, a throwaway redis-server, the admin
 * panel (logged in with the printed credentials in Chromium). Default ports (1337, or a free one).
 */
import { describeDemo } from './scenario.js';

describeDemo({ args: [], ports: 'default', multi: false, admin: true, browser: true });
