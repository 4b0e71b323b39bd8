import suite from '../suites/engine.mjs';

suite('chromium');
