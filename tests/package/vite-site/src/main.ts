// The pages' module: the page module from the package (Vite bundles it and emits its
// wasm), a stylesheet (a content-hashed asset).
import { register, prefetchOnHover, stats } from 'swcache/page';
import './style.css';

declare global {
  interface Window { registered: Promise<true | string>; swcacheStats: typeof stats }
}

window.swcacheStats = stats;
window.registered = register('/sw.js').then(() => true, (e: Error) => 'register failed: ' + e.message);
prefetchOnHover('a[data-prefetch]');
