/**
 * Builds the console into `dist/`, which the gateway serves at `/` (same
 * origin as the REST API, so the session cookie just works). `npm run dev
 * -w @loyalty/admin-ui` serves it with hot reload and proxies the API to a
 * gateway on localhost:8080 (`LOYALTY_API` to point elsewhere).
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import solid from 'vite-plugin-solid'

const api = process.env['LOYALTY_API'] ?? 'http://localhost:8080'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [solid()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/v1': api, '/openapi.json': api, '/healthz': api },
  },
})
