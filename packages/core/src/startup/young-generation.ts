import { isNodeFlagGiven } from './node-flags';

/**
 * The cap on V8's young generation for the service's processes, in MB per semi-space. V8's own
 * (16 MB, so 32 MB of new space) is reached within seconds of a load and then held: at 8 the
 * peak RSS of `npm run bench:api` fell from 139–152 to 133–137 MB under `Event` load and from
 * 167–192 to 152–156 MB under sync load, and the worker's after a 20,000-event drain from 155 to
 * 138 MB, with the CPU per request and the drain rate within the machine's noise (4 MB cost 12 %
 * of CPU; docs/benchmarks.md). Unlike the heap growth (heap-growth.ts), V8 reads it only as
 * the process starts, so it is a flag of the command that starts each process: `npm start`,
 * `npm run api|worker`, the Docker image and the compose file (tests check they agree).
 */
const SEMI_SPACE_MB = 8;

const FLAG = '--max-semi-space-size';

/** The Node.js flags to start an API or worker process with, less any NODE_OPTIONS already sets. */
export function serviceNodeFlags(nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  return isNodeFlagGiven(FLAG, [], nodeOptions) ? [] : [`${FLAG}=${SEMI_SPACE_MB}`];
}
