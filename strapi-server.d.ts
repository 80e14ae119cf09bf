import { strapiServer } from './dist/index.js';
export default strapiServer;
