import suite from '../suites/hydrate.mjs';

suite('chromium');
