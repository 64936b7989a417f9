import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The demo serves the bundled default weights (weights/default/*.safetensors) and the sample images from weights/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  publicDir: fileURLToPath(new URL('../weights', import.meta.url)),
  base: './',
  server: { host: '127.0.0.1', fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  optimizeDeps: { exclude: ['webgpu'] },
});
