// A three-page site built with the swcache plugin: the worker (src/sw.ts) becomes /sw.js
// with the build's precache manifest, the engine's files land in /swcache/.
import { resolve } from 'node:path';
import swcache from 'swcache/vite';

export default {
  build: {
    rollupOptions: {
      input: { main: resolve('index.html'), about: resolve('about/index.html'), promo: resolve('promo/index.html') },
    },
  },
  plugins: [swcache()],
};
