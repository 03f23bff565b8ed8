/**
 * `node --import @playground/node/register <file.ts>`: runs this repository's TypeScript with
 * the hooks in hooks.mjs (see there for why not tsx), and source-mapped stack traces.
 */
import { register } from 'node:module';

process.setSourceMapsEnabled(true);
register('./hooks.mjs', import.meta.url);
