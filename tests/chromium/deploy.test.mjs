import suite from '../suites/deploy.mjs';

suite('chromium');
