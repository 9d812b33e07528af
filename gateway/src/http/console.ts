/**
 * Caching for the admin console's files (served by `consoleFiles` in
 * `app.ts` from `admin-ui/dist`). Vite names every built asset after its
 * content (`/assets/index-3f9a1c.js`), so those may be cached for good; the
 * HTML page that names them must be revalidated on every load, or a browser
 * keeps an old page after an upgrade and asks for assets that are gone (a
 * blank console). Without a Cache-Control header browsers cache the page by
 * heuristics on its Last-Modified date, which is exactly that failure.
 *
 * @module
 */
import type { MiddlewareHandler } from 'hono'

const hashedAsset = /^\/assets\/[^/]+-[A-Za-z0-9_-]{6,}\.[a-z0-9]+$/
const immutable = 'public, max-age=31536000, immutable'

/**
 * Sets Cache-Control on the console's successful GET answers: immutable for
 * hashed assets, `no-cache` (revalidate, then use) for its HTML page.
 *
 * @example
 *   app.use('*', consoleCaching())
 */
export function consoleCaching(): MiddlewareHandler {
  return async (c, next) => {
    await next()
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || c.res.status !== 200) return
    if (c.res.headers.has('cache-control')) return
    if (hashedAsset.test(c.req.path)) c.res.headers.set('cache-control', immutable)
    else if ((c.res.headers.get('content-type') ?? '').startsWith('text/html')) {
      c.res.headers.set('cache-control', 'no-cache')
    }
  }
}
