import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { loadEnv, type ProxyOptions } from 'vite';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_API_TARGET = 'http://127.0.0.1:8000';

export default defineConfig(({ mode }) => {
  // API_PROXY_TARGET and RUNTIME_CONFIG_URL come from the environment or a
  // git-ignored .env.local. They only matter to `vite` and `vite preview`; the
  // built app always calls the relative paths /api, which CloudFront routes to
  // the API, and /config.json, which the infra writes into the site bucket.
  const env = loadEnv(mode, root, ['API_', 'RUNTIME_CONFIG_']);
  const proxy: Record<string, ProxyOptions> = {
    '/api': { target: env['API_PROXY_TARGET'] ?? DEFAULT_API_TARGET, changeOrigin: true },
  };
  // The dev stack's local issuer serves the runtime config (make dev sets this).
  const configUrl = env['RUNTIME_CONFIG_URL'];
  if (configUrl) {
    const { origin, pathname } = new URL(configUrl);
    proxy['/config.json'] = { target: origin, changeOrigin: true, rewrite: () => pathname };
  }

  return {
    root,
    plugins: [react()],
    server: { proxy },
    preview: { proxy },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      assetsDir: 'assets',
      // No source maps in the bucket: they would publish the source to anyone.
      sourcemap: false,
      target: 'es2022',
    },
    test: {
      environment: 'jsdom',
      setupFiles: ['./src/test/setup.ts'],
      include: ['src/**/*.test.{ts,tsx}'],
      restoreMocks: true,
      unstubGlobals: true,
    },
  };
});
