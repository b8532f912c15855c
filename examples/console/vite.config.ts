import path from 'node:path';
import { defineConfig } from 'vite';

// Operator console. Build: `npm run console:build` (-> examples/console/dist, served by the API at
// /console/ when SERVE_CONSOLE is on). Dev: `npm run console:dev`, proxying /graphql to API_URL
// (default http://localhost:4000).
const root = path.resolve(__dirname);

export default defineConfig({
  root,
  base: '/console/',
  publicDir: false,
  build: {
    outDir: path.join(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // No inline assets: the API's CSP (default-src 'self') forbids data: scripts and styles.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    port: Number(process.env.CONSOLE_PORT ?? 5173),
    strictPort: true,
    // The generated client lives at the repository root (client/generated).
    fs: { allow: [path.resolve(root, '..', '..')] },
    proxy: { '/graphql': { target: process.env.API_URL ?? 'http://localhost:4000', changeOrigin: true } },
  },
});
