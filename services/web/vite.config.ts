import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { loadEnv, type ProxyOptions } from 'vite';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_API_TARGET = 'http://127.0.0.1:8000';

export default defineConfig(({ mode }) => {
  // API_PROXY_TARGET comes from the environment or a git-ignored .env.local.
  // It only matters to `vite` and `vite preview`; the built app always calls
  // the relative path /api, which CloudFront routes to the API.
  const env = loadEnv(mode, root, 'API_');
  const proxy: Record<string, ProxyOptions> = {
    '/api': { target: env['API_PROXY_TARGET'] ?? DEFAULT_API_TARGET, changeOrigin: true },
  };

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
