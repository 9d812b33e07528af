// Worker threads do not inherit the TypeScript loader of the thread that
// started them, so the worker registers tsx itself before loading its code.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
