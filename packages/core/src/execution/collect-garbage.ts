import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = () => void;
let gc: Gc | undefined;

/**
 * A full garbage collection of the calling thread's isolate, without `--expose-gc` on the command
 * line. The function is got once, when first needed; the flag is process-wide but only for
 * contexts created while it is on, so it is turned off again at once.
 */
export function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as Gc;
    v8.setFlagsFromString('--no-expose-gc');
  }
  gc();
}
