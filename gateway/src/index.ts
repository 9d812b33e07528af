export * from './core/gateway.ts'
export * from './core/frames.ts'
