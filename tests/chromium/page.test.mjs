import suite from '../suites/page.mjs';

suite('chromium');
