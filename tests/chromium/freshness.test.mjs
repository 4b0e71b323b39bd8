import suite from '../suites/freshness.mjs';

suite('chromium');
